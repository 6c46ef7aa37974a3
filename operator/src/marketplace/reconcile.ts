// The Marketplace plan: namespace → database → messaging (→ workloads → gateway), one
// condition per plane, Ready as the aggregate. A plane whose dependency fails reports it
// and the others go on; nothing that exists is deleted because something failed.
import type { Logger } from 'pino';
import { FINALIZER, type Marketplace, type MarketplaceStatus } from '../api/types.js';
import type { Kube, KubeObject } from '../clients/kube.js';
import { deepEqual } from '../clients/subset.js';
import { BrokerError, type RabbitAdmin } from '../clients/rabbitmq-admin.js';
import type { MongoAdmin } from '../clients/mongo-admin.js';
import { generatePassword } from '../clients/password-check.js';
import {
  aggregateReady,
  setCondition,
  transitions,
  type ConditionUpdate,
} from '../runtime/conditions.js';
import type { EventRecorder } from '../runtime/events.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { OperatorSettings } from '../settings.js';
import {
  BROKER_PERMISSIONS,
  buildBrokerSecret,
  buildDatabaseSecret,
  passwordOf,
} from './credentials.js';
import { tenantNames } from './names.js';
import { buildNamespacePlane } from './namespace.js';
import { tenantTopology } from './topology.js';

export const PLANES = ['DatabaseReady', 'MessagingReady'] as const;

export interface MarketplaceDeps {
  kube: Kube;
  mongo: MongoAdmin;
  rabbit: RabbitAdmin;
  events: EventRecorder;
  settings: OperatorSettings;
  log: Logger;
  /** The informer's copy, to save a read per reconcile. */
  cached: (name: string) => Marketplace | undefined;
  now?: () => Date;
}

/** A plane that could not converge; the queue retries the key with backoff. */
export class PlaneFailure extends Error {
  override name = 'PlaneFailure';
}

const MARKETPLACE_REF = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' } as const;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** CamelCase reason for a failure talking to MongoDB. */
function databaseReason(err: unknown): string {
  const name = (err as Error).name;
  if (/Authentication|Unauthorized/i.test(errorMessage(err))) return 'DatabaseRefused';
  if (/ServerSelection|Network|Timeout/i.test(name)) return 'DatabaseUnavailable';
  return 'DatabaseError';
}

/** Secret with a password: the one it already holds, or a new one. */
async function credentialSecret(
  kube: Kube,
  namespace: string,
  name: string,
  build: (password: string) => KubeObject,
): Promise<string> {
  const existing = await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  const password = passwordOf(existing) ?? generatePassword();
  await kube.ensure(build(password), existing);
  return password;
}

async function databasePlane(deps: MarketplaceDeps, mp: Marketplace): Promise<ConditionUpdate> {
  const names = tenantNames(mp.metadata.name);
  try {
    const password = await credentialSecret(deps.kube, names.namespace, names.databaseSecret, (p) =>
      buildDatabaseSecret(mp, deps.settings, p),
    );
    const changes = await deps.mongo.ensureTenantDatabase(
      names.database,
      names.databaseUser,
      password,
    );
    if (changes.length > 0)
      deps.log.info({ marketplace: mp.metadata.name, changes }, 'database converged');
    return {
      type: 'DatabaseReady',
      status: 'True',
      reason: 'Provisioned',
      message: `database ${names.database}, user ${names.databaseUser}`,
    };
  } catch (err) {
    return {
      type: 'DatabaseReady',
      status: 'False',
      reason: databaseReason(err),
      message: errorMessage(err),
    };
  }
}

async function messagingPlane(deps: MarketplaceDeps, mp: Marketplace): Promise<ConditionUpdate> {
  const names = tenantNames(mp.metadata.name);
  try {
    const password = await credentialSecret(deps.kube, names.namespace, names.brokerSecret, (p) =>
      buildBrokerSecret(mp, deps.settings, p),
    );
    const { rabbit } = deps;
    await rabbit.ensureVhost(names.vhost);
    // The operator's own user declares the topology, so it needs rights in the vhost.
    await rabbit.ensurePermissions(names.vhost, rabbit.adminUser, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
    await rabbit.ensureUser(names.brokerUser, password);
    await rabbit.ensurePermissions(names.vhost, names.brokerUser, BROKER_PERMISSIONS);
    const changes = await rabbit.ensureTopology(names.vhost, tenantTopology());
    if (changes.length > 0)
      deps.log.info({ marketplace: mp.metadata.name, changes }, 'topology converged');
    return {
      type: 'MessagingReady',
      status: 'True',
      reason: 'Provisioned',
      message: `vhost ${names.vhost}, user ${names.brokerUser}`,
    };
  } catch (err) {
    const reason = err instanceof BrokerError ? err.reason : 'BrokerError';
    return { type: 'MessagingReady', status: 'False', reason, message: errorMessage(err) };
  }
}

async function writeStatus(
  deps: MarketplaceDeps,
  mp: Marketplace,
  status: MarketplaceStatus,
): Promise<void> {
  const current = mp.status ?? {};
  const unchanged = deepEqual(current, status);
  if (unchanged) return;
  await deps.kube.mergePatch({ ...MARKETPLACE_REF, name: mp.metadata.name }, { status }, '/status');
  for (const c of transitions(current.conditions ?? [], status.conditions ?? [])) {
    await deps.events.record(
      mp,
      c.status === 'False' ? 'Warning' : 'Normal',
      c.reason,
      `${c.type} is ${c.status}: ${c.message}`,
    );
  }
}

/** Deletion: drop data when asked to, then let Kubernetes collect the children. */
async function finalize(deps: MarketplaceDeps, mp: Marketplace): Promise<void> {
  const finalizers = mp.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return;
  const names = tenantNames(mp.metadata.name);
  if ((mp.spec.deletionPolicy ?? 'Retain') === 'Delete') {
    await deps.mongo.dropTenantDatabase(names.database, names.databaseUser);
    await deps.rabbit.deleteTenant(names.vhost, names.brokerUser);
    deps.log.info(
      { marketplace: mp.metadata.name },
      'deleted database and vhost (deletionPolicy Delete)',
    );
  }
  await deps.kube.mergePatch(
    { ...MARKETPLACE_REF, name: mp.metadata.name },
    {
      metadata: {
        finalizers: finalizers.filter((f) => f !== FINALIZER),
        resourceVersion: mp.metadata.resourceVersion,
      },
    },
  );
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
  if (!(mp.metadata.finalizers ?? []).includes(FINALIZER)) {
    await deps.kube.mergePatch(
      { ...MARKETPLACE_REF, name },
      {
        metadata: {
          finalizers: [...(mp.metadata.finalizers ?? []), FINALIZER],
          resourceVersion: mp.metadata.resourceVersion,
        },
      },
    );
  }
  const names = tenantNames(name);
  const generation = mp.metadata.generation ?? 0;
  const now = (deps.now ?? (() => new Date()))();

  for (const object of buildNamespacePlane(mp, deps.settings)) await deps.kube.ensure(object);
  const planes = await Promise.all([databasePlane(deps, mp), messagingPlane(deps, mp)]);

  let conditions = mp.status?.conditions ?? [];
  for (const update of planes) conditions = setCondition(conditions, update, generation, now);
  conditions = setCondition(conditions, aggregateReady(conditions, PLANES), generation, now);
  await writeStatus(deps, mp, {
    observedGeneration: generation,
    namespace: names.namespace,
    database: names.database,
    vhost: names.vhost,
    conditions,
  });
  const failed = planes.filter((p) => p.status !== 'True');
  if (failed.length > 0)
    throw new PlaneFailure(failed.map((p) => `${p.type}: ${p.reason}`).join('; '));
  return undefined;
}
