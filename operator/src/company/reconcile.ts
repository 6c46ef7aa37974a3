// The Company plan: find its marketplace, then run its planes (planes.ts) on the shared
// runner and report companyId and the credentials Secret. A Company outside any live
// marketplace (or one refused for its namespace) is refused with Registered False. Deleting it revokes the credential
// (Kubernetes collects what it owns) and marks the record removed.
import { SHARED_COLLECTIONS } from '@gorten/kit/tenant-contract';
import { API_VERSION, FINALIZER, type Company } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import { addFinalizer, removeFinalizer } from '../runtime/finalizers.js';
import { failed, report, runPlanes } from '../runtime/plan.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { generateRsaKeyPair, keyPairOf } from '../secrets.js';
import { marketplaceOfNamespace, tenantNames } from '../marketplace/names.js';
import { companyId, companyNames, companyRecord } from './builders.js';
import { COMPANY_PLANES, type CompanyDeps } from './planes.js';

/** The conditions a Company reports besides Ready. */
export type CompanyCondition = (typeof COMPANY_PLANES)[number]['condition'];

function ref(company: Company) {
  return {
    apiVersion: API_VERSION,
    kind: 'Company',
    namespace: company.metadata.namespace,
    name: company.metadata.name,
  };
}

async function finalize(
  deps: CompanyDeps,
  company: Company,
  marketplace: string | undefined,
): Promise<void> {
  if (!(company.metadata.finalizers ?? []).includes(FINALIZER)) return;
  // The record stays (orders refer to it), marked removed; the credential goes with the
  // object. Not when the whole tenant database is being dropped: the write could come
  // after the drop and make the database exist again.
  if (marketplace && company.metadata.uid) {
    await deps.mongo.ensureDocument(
      tenantNames(marketplace).database,
      SHARED_COLLECTIONS.companies,
      companyId(company),
      companyRecord(company, null, 'removed'),
    );
  }
  await removeFinalizer(deps.kube, ref(company), company, FINALIZER);
}

export async function reconcileCompany(
  deps: CompanyDeps,
  key: string,
): Promise<ReconcileResult | undefined> {
  const company = deps.cached(key);
  if (!company) return undefined;
  const marketplaceName = marketplaceOfNamespace(company.metadata.namespace);
  const marketplace = marketplaceName ? deps.marketplace(marketplaceName) : undefined;
  // A Marketplace refused for its namespace (NamespaceConflict) has not claimed it:
  // status.namespace is set only once it has, and nothing is written into it before.
  const live =
    marketplace &&
    !marketplace.metadata.deletionTimestamp &&
    marketplace.status?.namespace === company.metadata.namespace
      ? marketplaceName
      : undefined;
  if (company.metadata.deletionTimestamp) {
    const dropping =
      marketplace?.metadata.deletionTimestamp !== undefined &&
      marketplace.spec.deletionPolicy === 'Delete';
    await finalize(deps, company, marketplace && !dropping ? marketplaceName : undefined);
    return undefined;
  }
  if (!live) {
    const homeless = failed(
      'NoMarketplace',
      `namespace ${company.metadata.namespace} belongs to no live Marketplace; create Companies in mp-<marketplace>`,
    );
    const readyOf = COMPANY_PLANES.map((p) => p.condition);
    const subject = { ref: ref(company), object: company, fields: company.status ?? {} };
    return report(deps, subject, readyOf, [['Registered', homeless]]);
  }

  await addFinalizer(deps.kube, ref(company), company, FINALIZER);
  // The key pair first: the record publishes its public half.
  const names = companyNames(company);
  const existing = await deps.kube.get<KubeObject>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: company.metadata.namespace,
    name: names.credentialsSecret,
  });
  const keys = keyPairOf(existing) ?? generateRsaKeyPair();
  const fields = { companyId: companyId(company), credentialsSecret: names.credentialsSecret };
  return runPlanes(deps, { ref: ref(company), object: company, fields }, COMPANY_PLANES, {
    deps,
    company,
    marketplace: live,
    keys,
  });
}
