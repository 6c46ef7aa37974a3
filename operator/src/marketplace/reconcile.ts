// The Marketplace plan: the namespace with its guard rails and the tenant's credentials
// first, then the planes of planes/ side by side, one condition each, Ready as the
// aggregate (runtime/plan.ts). A plane whose dependency fails reports it and the others
// go on; nothing that exists is deleted because something failed. A namespace that is
// someone else's refuses the whole tenant (Ready False, NamespaceConflict).
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, FINALIZER, type Marketplace } from '../api/types.js';
import { KubeError, refOf, type KubeObject } from '../clients/kube.js';
import { addFinalizer, removeFinalizer } from '../runtime/finalizers.js';
import { refuse, runPlanes } from '../runtime/plan.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { generatePassword, generateRsaKeyPair, keyPairOf } from '../secrets.js';
import { idempotencyKeyOf, passwordOf } from './credentials.js';
import { tenantNames } from './names.js';
import { buildNamespacePlane, buildTenantRoleBinding, namespaceClaim } from './namespace.js';
import { cachePlane } from './planes/cache.js';
import { DATABASE_ISOLATED, databasePlane } from './planes/database.js';
import { gatewayPlane } from './planes/gateway.js';
import { messagingPlane } from './planes/messaging.js';
import { SCRAPE_CONFIGURED } from './planes/service-monitor.js';
import { applyOwned, type MarketplaceDeps, type Tenant } from './planes/tenant.js';
import { workloadsPlane } from './planes/workloads.js';

export const PLANES = [
  databasePlane,
  messagingPlane,
  cachePlane,
  workloadsPlane,
  gatewayPlane,
] as const;

/**
 * The conditions a Marketplace reports besides Ready: one per plane, and the two Ready
 * does not wait for, DatabaseIsolated and ScrapeConfigured.
 */
export type MarketplaceCondition =
  (typeof PLANES)[number]['condition'] | typeof DATABASE_ISOLATED | typeof SCRAPE_CONFIGURED;

/** Every condition a Marketplace reports, Ready included (the tenants-by-condition gauge). */
export const MARKETPLACE_CONDITIONS: readonly (MarketplaceCondition | 'Ready')[] = [
  ...PLANES.map((p) => p.condition),
  DATABASE_ISOLATED,
  SCRAPE_CONFIGURED,
  'Ready',
];

const MARKETPLACE_REF = { apiVersion: API_VERSION, kind: 'Marketplace' } as const;

/**
 * Whose the namespace mp-<name> is now (namespace.ts `namespaceClaim`). The informer sees
 * only namespaces with the tenant label: one it holds as ours needs no read; any other
 * answer (absent, or someone else's) is asked of the server.
 */
async function claimOf(deps: MarketplaceDeps, mp: Marketplace) {
  const namespace = tenantNames(mp.metadata.name).namespace;
  const cached = deps.owned?.namespace(namespace);
  if (cached && namespaceClaim(mp, cached) === 'ours') return 'ours';
  const live = await deps.kube.get<KubeObject>({
    apiVersion: 'v1',
    kind: 'Namespace',
    name: namespace,
  });
  return namespaceClaim(mp, live);
}

/** How often, and how long, a fresh RoleBinding is waited for. */
const BINDING_RETRY_MS = 250;
const BINDING_ATTEMPTS = 20;

/**
 * With `tenantAccess` (the chart's RBAC), the operator's rights in the namespace: its
 * RoleBinding to the tenant ClusterRole, made when missing. Returns whether it was just
 * made. It reads the binding through that binding, so a 403 means it is not there yet.
 */
async function bindTenantRole(deps: MarketplaceDeps, mp: Marketplace): Promise<boolean> {
  const access = deps.settings.tenantAccess;
  if (!access) return false;
  const binding = buildTenantRoleBinding(mp, access);
  try {
    if (await deps.kube.get(refOf(binding))) return false;
  } catch (err) {
    if (!(err instanceof KubeError && err.status === 403)) throw err;
  }
  await deps.kube.create(binding);
  return true;
}

/** The namespace's Secrets; a RoleBinding just made takes a moment to reach the authorizer. */
async function listSecrets(
  deps: MarketplaceDeps,
  namespace: string,
  justBound: boolean,
): Promise<KubeObject[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const ref = { apiVersion: 'v1', kind: 'Secret', namespace };
      return (await deps.kube.list<KubeObject>(ref)).items;
    } catch (err) {
      const propagating = justBound && err instanceof KubeError && err.status === 403;
      if (!propagating || attempt >= BINDING_ATTEMPTS) throw err;
      await sleep(BINDING_RETRY_MS);
    }
  }
}

/**
 * What every plane needs before it can run: the namespace (created when absent, never
 * patched: the operator may not relabel namespaces), its RoleBinding and guard rails, and the
 * credentials — kept from their Secrets, generated where missing; each plane writes the
 * Secrets it owns. A failure here fails the reconcile before any condition is set.
 */
async function prepare(
  deps: MarketplaceDeps,
  mp: Marketplace,
  claim: 'absent' | 'ours',
): Promise<Tenant> {
  const names = tenantNames(mp.metadata.name);
  const [namespace, ...guardRails] = buildNamespacePlane(mp, deps.settings);
  // A 409 (made meanwhile) fails this reconcile; the next one sees whose it is.
  if (namespace && claim === 'absent') await deps.kube.create(namespace);
  const justBound = await bindTenantRole(deps, mp);
  const secrets = await listSecrets(deps, names.namespace, justBound);
  const existing = (name: string) => secrets.find((s) => s.metadata.name === name);
  const tenant: Tenant = {
    deps,
    mp,
    names,
    secrets,
    credentials: {
      databasePassword: passwordOf(existing(names.databaseSecret)) ?? generatePassword(),
      brokerPassword: passwordOf(existing(names.brokerSecret)) ?? generatePassword(),
      cachePassword: passwordOf(existing(names.cacheSecret)) ?? generatePassword(),
      adminPassword: passwordOf(existing(names.adminSecret)) ?? generatePassword(),
      signingKey: keyPairOf(existing(names.signingKeySecret)) ?? generateRsaKeyPair(),
      idempotencyKey: idempotencyKeyOf(existing(names.idempotencySecret)) ?? generatePassword(32),
      smtpUrl: deps.settings.smtpUrl,
    },
  };
  await applyOwned(tenant, guardRails);
  return tenant;
}

/**
 * How often a deletion looks whether the tenant's pods have stopped, when no informer on
 * its Deployments (owned.ts) queues it as they stop.
 */
const STOP_POLL_MS = 2_000;
/** Past the deadline by this much when looked at again, whatever the timers' precision. */
const DEADLINE_MARGIN_MS = 1_000;

/**
 * Deletion: with deletionPolicy Delete, stop the tenant's workloads (waited for until their
 * pods are gone, so none writes afterwards: the Deployments' events queue the tenant again
 * as they stop, and it is looked at once more at the deadline) and drop its data; then let
 * Kubernetes collect the children. A tenant refused for its namespace made nothing:
 * nothing is stopped or dropped.
 */
async function finalize(
  deps: MarketplaceDeps,
  mp: Marketplace,
): Promise<ReconcileResult | undefined> {
  if (!(mp.metadata.finalizers ?? []).includes(FINALIZER)) return undefined;
  const refused = (await claimOf(deps, mp)) === 'foreign';
  if ((mp.spec.deletionPolicy ?? 'Retain') === 'Delete' && !refused) {
    const running = (
      await Promise.all(PLANES.map((p) => p.stop?.(deps, mp) ?? Promise.resolve([])))
    ).flat();
    // A string on the wire, whatever client-node's type says.
    const since = new Date(mp.metadata.deletionTimestamp ?? 0).getTime();
    const elapsed = (deps.now ?? (() => new Date()))().getTime() - since;
    // After this long, data is dropped even if pods still run (a lost node, a stuck pod).
    const deadlineMs = deps.settings.tenantStopDeadlineSeconds * 1000;
    const overdue = elapsed > deadlineMs;
    if (running.length > 0 && !overdue)
      return {
        requeueAfterMs: deps.owned ? deadlineMs - elapsed + DEADLINE_MARGIN_MS : STOP_POLL_MS,
      };
    if (running.length > 0) {
      const message = `still running after ${deps.settings.tenantStopDeadlineSeconds} s, dropped anyway: ${running.join(', ')}`;
      deps.log.warn({ marketplace: mp.metadata.name, running }, message);
      await deps.events.record(mp, 'Warning', 'DroppedWhileRunning', message);
    }
    for (const plane of PLANES) await plane.drop?.(deps, tenantNames(mp.metadata.name));
    deps.log.info(
      { marketplace: mp.metadata.name },
      'deleted database, vhost and cache user (deletionPolicy Delete)',
    );
  }
  await removeFinalizer(deps.kube, { ...MARKETPLACE_REF, name: mp.metadata.name }, mp, FINALIZER);
  return undefined;
}

export async function reconcileMarketplace(
  deps: MarketplaceDeps,
  name: string,
): Promise<ReconcileResult | undefined> {
  const mp = deps.cached(name);
  if (!mp) return undefined;
  if (mp.metadata.deletionTimestamp) return finalize(deps, mp);
  const ref = { ...MARKETPLACE_REF, name };
  await addFinalizer(deps.kube, ref, mp, FINALIZER);
  const claim = await claimOf(deps, mp);
  if (claim === 'foreign') {
    const { namespace } = tenantNames(name);
    return refuse(
      deps,
      { ref, object: mp, fields: {} },
      'NamespaceConflict',
      `namespace ${namespace} exists and is not this Marketplace's (no gorten.io/marketplace=${name} label, no ownerReference to it); nothing was written: delete or rename that namespace, or choose another name`,
    );
  }
  const tenant = await prepare(deps, mp, claim);
  const { namespace, database, vhost } = tenant.names;
  return runPlanes(
    deps,
    { ref, object: mp, fields: { namespace, database, vhost } },
    PLANES,
    tenant,
  );
}
