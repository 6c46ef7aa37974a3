// The Company plan: find its marketplace, record it in the tenant database, issue its
// API credential, report companyId and the credentials Secret. Deleting it revokes the
// credential (Kubernetes collects what it owns) and marks the record removed.
import type { Logger } from 'pino';
import { FINALIZER, type Company, type Marketplace } from '../api/types.js';
import { applySet } from '../clients/apply.js';
import type { Kube, KubeObject } from '../clients/kube.js';
import type { MongoAdmin } from '../clients/mongo-admin.js';
import { aggregateReady, setCondition, type ConditionUpdate } from '../runtime/conditions.js';
import type { EventRecorder } from '../runtime/events.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { addFinalizer, removeFinalizer, writeStatus } from '../runtime/object-status.js';
import type { OperatorSettings } from '../settings.js';
import { generateRsaKeyPair, keyPairOf } from '../secrets.js';
import { marketplaceOfNamespace, tenantNames } from '../marketplace/names.js';
import {
  buildCompanyGateway,
  buildCompanyKeySecret,
  companyId,
  companyNames,
  companyRecord,
} from './builders.js';

export const COMPANY_CONDITIONS = ['Registered', 'CredentialIssued'] as const;

export interface CompanyDeps {
  kube: Kube;
  mongo: MongoAdmin;
  events: EventRecorder;
  settings: OperatorSettings;
  log: Logger;
  cached: (key: string) => Company | undefined;
  marketplace: (name: string) => Marketplace | undefined;
  now?: () => Date;
}

export class CompanyNotReady extends Error {
  override name = 'CompanyNotReady';
}

function ref(company: Company) {
  return {
    apiVersion: 'gorten.io/v1alpha1',
    kind: 'Company',
    namespace: company.metadata.namespace,
    name: company.metadata.name,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function finalize(
  deps: CompanyDeps,
  company: Company,
  marketplace: string | undefined,
): Promise<void> {
  if (!(company.metadata.finalizers ?? []).includes(FINALIZER)) return;
  // The record stays (orders refer to it), marked removed; the credential goes with the object.
  if (marketplace && company.metadata.uid) {
    await deps.mongo.ensureDocument(
      tenantNames(marketplace).database,
      'companies',
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
  if (company.metadata.deletionTimestamp) {
    await finalize(deps, company, marketplace ? marketplaceName : undefined);
    return undefined;
  }
  const generation = company.metadata.generation ?? 0;
  const now = (deps.now ?? (() => new Date()))();
  let conditions = company.status?.conditions ?? [];
  const set = (update: ConditionUpdate): void => {
    conditions = setCondition(conditions, update, generation, now);
  };

  if (!marketplace || !marketplaceName || marketplace.metadata.deletionTimestamp) {
    set({
      type: 'Registered',
      status: 'False',
      reason: 'NoMarketplace',
      message: `namespace ${company.metadata.namespace} belongs to no live Marketplace; create Companies in mp-<marketplace>`,
    });
    set(aggregateReady(conditions, COMPANY_CONDITIONS));
    await writeStatus(deps.kube, deps.events, ref(company), company, {
      ...company.status,
      observedGeneration: generation,
      conditions,
    });
    throw new CompanyNotReady(`Company ${key}: no marketplace`);
  }

  await addFinalizer(deps.kube, ref(company), company, FINALIZER);

  const id = companyId(company);
  const names = companyNames(company);
  // The key pair first: the record publishes its public half.
  const existing = await deps.kube.get<KubeObject>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: company.metadata.namespace,
    name: names.credentialsSecret,
  });
  const keys = keyPairOf(existing) ?? generateRsaKeyPair();
  try {
    await deps.mongo.ensureDocument(
      tenantNames(marketplaceName).database,
      'companies',
      id,
      companyRecord(company, keys.publicPem),
    );
    set({
      type: 'Registered',
      status: 'True',
      reason: 'Registered',
      message: `company ${id} in ${tenantNames(marketplaceName).database}`,
    });
  } catch (err) {
    set({
      type: 'Registered',
      status: 'False',
      reason: 'DatabaseUnavailable',
      message: errorMessage(err),
    });
  }

  try {
    const objects = [
      buildCompanyKeySecret(company, marketplaceName, keys),
      ...buildCompanyGateway(company, marketplaceName, deps.settings, keys.publicPem),
    ];
    await applySet(
      deps.kube,
      company.metadata.namespace,
      objects,
      [{ apiVersion: 'v1', kind: 'Secret' }],
      ['gorten.io/company', company.metadata.name],
    );
    set(
      company.spec.suspended
        ? {
            type: 'CredentialIssued',
            status: 'False',
            reason: 'Suspended',
            message: 'the API credential is withdrawn while the company is suspended',
          }
        : {
            type: 'CredentialIssued',
            status: 'True',
            reason: 'Issued',
            message: `Kong consumer ${names.consumer}, key id ${id}`,
          },
    );
  } catch (err) {
    set({
      type: 'CredentialIssued',
      status: 'False',
      reason: 'ApplyFailed',
      message: errorMessage(err),
    });
  }

  set(aggregateReady(conditions, COMPANY_CONDITIONS));
  await writeStatus(deps.kube, deps.events, ref(company), company, {
    observedGeneration: generation,
    companyId: id,
    credentialsSecret: names.credentialsSecret,
    conditions,
  });
  const failed = conditions.filter(
    (c) => c.status === 'False' && c.reason !== 'Suspended' && c.type !== 'Ready',
  );
  if (failed.length > 0)
    throw new CompanyNotReady(failed.map((c) => `${c.type}: ${c.reason}`).join('; '));
  return undefined;
}
