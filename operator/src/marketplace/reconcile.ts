// The Marketplace plan: the namespace with its guard rails and the tenant's credentials
// first, then the planes of planes/ side by side, one condition each, Ready as the
// aggregate (runtime/plan.ts). A plane whose dependency fails reports it and the others
// go on; nothing that exists is deleted because something failed.
import { API_VERSION, FINALIZER, type Marketplace } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import { addFinalizer, removeFinalizer } from '../runtime/finalizers.js';
import { runPlanes } from '../runtime/plan.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { generatePassword, generateRsaKeyPair, keyPairOf } from '../secrets.js';
import { idempotencyKeyOf, passwordOf } from './credentials.js';
import { tenantNames } from './names.js';
import { buildNamespacePlane } from './namespace.js';
import { databasePlane } from './planes/database.js';
import { gatewayPlane } from './planes/gateway.js';
import { messagingPlane } from './planes/messaging.js';
import { applyOwned, type MarketplaceDeps, type Tenant } from './planes/tenant.js';
import { workloadsPlane } from './planes/workloads.js';

export const PLANES = [databasePlane, messagingPlane, workloadsPlane, gatewayPlane] as const;

/** The conditions a Marketplace reports besides Ready: one per plane. */
export type MarketplaceCondition = (typeof PLANES)[number]['condition'];

const MARKETPLACE_REF = { apiVersion: API_VERSION, kind: 'Marketplace' } as const;

/**
 * What every plane needs before it can run: the namespace and its guard rails, and the
 * credentials — kept from their Secrets, generated where missing; each plane writes the
 * Secrets it owns. A failure here fails the reconcile before any condition is set.
 */
async function prepare(deps: MarketplaceDeps, mp: Marketplace): Promise<Tenant> {
  const names = tenantNames(mp.metadata.name);
  const [namespace, ...guardRails] = buildNamespacePlane(mp, deps.settings);
  if (namespace) await deps.kube.ensure(namespace);
  const { items: secrets } = await deps.kube.list<KubeObject>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: names.namespace,
  });
  const existing = (name: string) => secrets.find((s) => s.metadata.name === name);
  const tenant: Tenant = {
    deps,
    mp,
    names,
    secrets,
    credentials: {
      databasePassword: passwordOf(existing(names.databaseSecret)) ?? generatePassword(),
      brokerPassword: passwordOf(existing(names.brokerSecret)) ?? generatePassword(),
      adminPassword: passwordOf(existing(names.adminSecret)) ?? generatePassword(),
      signingKey: keyPairOf(existing(names.signingKeySecret)) ?? generateRsaKeyPair(),
      idempotencyKey: idempotencyKeyOf(existing(names.idempotencySecret)) ?? generatePassword(32),
      smtpUrl: deps.settings.smtpUrl,
    },
  };
  await applyOwned(tenant, guardRails);
  return tenant;
}

/** Deletion: drop data when asked to, then let Kubernetes collect the children. */
async function finalize(deps: MarketplaceDeps, mp: Marketplace): Promise<void> {
  if (!(mp.metadata.finalizers ?? []).includes(FINALIZER)) return;
  if ((mp.spec.deletionPolicy ?? 'Retain') === 'Delete') {
    for (const plane of PLANES) await plane.drop?.(deps, tenantNames(mp.metadata.name));
    deps.log.info(
      { marketplace: mp.metadata.name },
      'deleted database and vhost (deletionPolicy Delete)',
    );
  }
  await removeFinalizer(deps.kube, { ...MARKETPLACE_REF, name: mp.metadata.name }, mp, FINALIZER);
}

export async function reconcileMarketplace(
  deps: MarketplaceDeps,
  name: string,
): Promise<ReconcileResult | undefined> {
  const mp = deps.cached(name);
  if (!mp) return undefined;
  if (mp.metadata.deletionTimestamp) {
    await finalize(deps, mp);
    return undefined;
  }
  const ref = { ...MARKETPLACE_REF, name };
  await addFinalizer(deps.kube, ref, mp, FINALIZER);
  const tenant = await prepare(deps, mp);
  const { namespace, database, vhost } = tenant.names;
  return runPlanes(
    deps,
    { ref, object: mp, fields: { namespace, database, vhost } },
    PLANES,
    tenant,
  );
}
