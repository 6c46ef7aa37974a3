// The Marketplace plan: namespace and credentials first, then the database, messaging,
// workloads and gateway planes side by side; one condition per plane, Ready as the aggregate. A plane whose dependency fails reports it
// and the others go on; nothing that exists is deleted because something failed.
import type { Logger } from 'pino';
import { FINALIZER, type Marketplace } from '../api/types.js';
import type { Kube, KubeObject } from '../clients/kube.js';
import { BrokerError, type RabbitAdmin } from '../clients/rabbitmq-admin.js';
import { DatabaseError, type MongoAdmin } from '../clients/mongo-admin.js';
import { aggregateReady, setCondition, type ConditionUpdate } from '../runtime/conditions.js';
import type { EventRecorder } from '../runtime/events.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { addFinalizer, removeFinalizer, writeStatus } from '../runtime/object-status.js';
import type { OperatorSettings } from '../settings.js';
import { applySet } from '../clients/apply.js';
import { generatePassword, generateRsaKeyPair, keyPairOf, type KeyPair } from '../secrets.js';
import {
  BROKER_PERMISSIONS,
  buildBrokerSecret,
  buildDatabaseSecret,
  buildAdminSecret,
  buildSigningKeySecret,
  buildSmtpSecret,
  passwordOf,
} from './credentials.js';
import { buildGatewayPlane, GatewayConfigError } from './gateway.js';
import { buildConfigMap, buildWorkloadsPlane, configDigest, rolloutLag } from './workloads.js';
import { tenantNames } from './names.js';
import { buildNamespacePlane } from './namespace.js';
import { tenantTopology } from './topology.js';

export const PLANES = [
  'DatabaseReady',
  'MessagingReady',
  'WorkloadsReady',
  'GatewayReady',
] as const;

/** How soon to look again while Deployments are still rolling out. */
const ROLLOUT_POLL_MS = 5_000;

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

interface TenantCredentials {
  databasePassword: string;
  brokerPassword: string;
  adminPassword: string;
  signingKey: KeyPair;
  smtpUrl: string;
}

interface PlaneOutcome {
  condition: ConditionUpdate;
  requeueAfterMs?: number;
}

const ready = (type: string, reason: string, message: string): PlaneOutcome => ({
  condition: { type, status: 'True', reason, message },
});

/** `requeueAfterMs`: not a failure, work under way — look again then (no backoff). */
const notReady = (
  type: string,
  reason: string,
  message: string,
  requeueAfterMs?: number,
): PlaneOutcome => ({
  condition: { type, status: 'False', reason, message },
  ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
});

/**
 * The namespace's guard rails and the credential Secrets, in one apply set. Existing
 * passwords and keys are kept; only missing ones are generated.
 */
async function namespaceAndCredentials(
  deps: MarketplaceDeps,
  mp: Marketplace,
): Promise<TenantCredentials> {
  const names = tenantNames(mp.metadata.name);
  const [namespace, ...guardRails] = buildNamespacePlane(mp, deps.settings);
  if (namespace) await deps.kube.ensure(namespace);
  const secrets = await deps.kube.list<KubeObject>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: names.namespace,
  });
  const existing = (name: string) => secrets.items.find((s) => s.metadata.name === name);
  const credentials: TenantCredentials = {
    databasePassword: passwordOf(existing(names.databaseSecret)) ?? generatePassword(),
    brokerPassword: passwordOf(existing(names.brokerSecret)) ?? generatePassword(),
    adminPassword: passwordOf(existing(names.adminSecret)) ?? generatePassword(),
    signingKey: keyPairOf(existing(names.signingKeySecret)) ?? generateRsaKeyPair(),
    smtpUrl: deps.settings.smtpUrl,
  };
  await applySet(
    deps.kube,
    names.namespace,
    [
      ...guardRails,
      buildDatabaseSecret(mp, deps.settings, credentials.databasePassword),
      buildBrokerSecret(mp, deps.settings, credentials.brokerPassword),
      buildSigningKeySecret(mp, credentials.signingKey),
      buildAdminSecret(mp, credentials.adminPassword),
      buildSmtpSecret(mp, deps.settings),
    ],
    [],
    ownerLabel(mp),
    new Map([['v1/Secret', secrets.items]]),
  );
  return credentials;
}

function ownerLabel(mp: Marketplace): [string, string] {
  return ['gorten.io/marketplace', mp.metadata.name];
}

async function databasePlane(
  deps: MarketplaceDeps,
  mp: Marketplace,
  password: string,
): Promise<PlaneOutcome> {
  const names = tenantNames(mp.metadata.name);
  try {
    const changes = await deps.mongo.ensureTenantDatabase(
      names.database,
      names.databaseUser,
      password,
    );
    if (changes.length > 0)
      deps.log.info({ marketplace: mp.metadata.name, changes }, 'database converged');
    return ready(
      'DatabaseReady',
      'Provisioned',
      `database ${names.database}, user ${names.databaseUser}`,
    );
  } catch (err) {
    const reason = err instanceof DatabaseError ? err.reason : 'DatabaseError';
    return notReady('DatabaseReady', reason, errorMessage(err));
  }
}

async function messagingPlane(
  deps: MarketplaceDeps,
  mp: Marketplace,
  password: string,
): Promise<PlaneOutcome> {
  const names = tenantNames(mp.metadata.name);
  const { rabbit } = deps;
  try {
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
    return ready('MessagingReady', 'Provisioned', `vhost ${names.vhost}, user ${names.brokerUser}`);
  } catch (err) {
    const reason = err instanceof BrokerError ? err.reason : 'BrokerError';
    return notReady('MessagingReady', reason, errorMessage(err));
  }
}

async function workloadsPlane(
  deps: MarketplaceDeps,
  mp: Marketplace,
  credentials: TenantCredentials,
): Promise<PlaneOutcome> {
  const names = tenantNames(mp.metadata.name);
  try {
    const digest = configDigest([credentials, buildConfigMap(mp).data]);
    const objects = buildWorkloadsPlane(mp, deps.settings, digest);
    const { live } = await applySet(
      deps.kube,
      names.namespace,
      objects,
      [AUTOSCALER],
      ownerLabel(mp),
    );
    const deployments = [...live.values()].filter(
      (o) =>
        o.kind === 'Deployment' &&
        o.metadata.labels?.['gorten.io/marketplace'] === mp.metadata.name,
    );
    const lagging = rolloutLag(deployments);
    if (lagging.length > 0) {
      return notReady('WorkloadsReady', 'RollingOut', lagging.join(', '), ROLLOUT_POLL_MS);
    }
    return mp.spec.suspended
      ? ready('WorkloadsReady', 'Suspended', 'every service is scaled to zero')
      : ready('WorkloadsReady', 'Available', `${deployments.length} services available`);
  } catch (err) {
    return notReady('WorkloadsReady', 'ApplyFailed', errorMessage(err));
  }
}

async function gatewayPlane(
  deps: MarketplaceDeps,
  mp: Marketplace,
  credentials: TenantCredentials,
): Promise<PlaneOutcome> {
  const names = tenantNames(mp.metadata.name);
  try {
    const objects = buildGatewayPlane(mp, deps.settings, credentials.signingKey.publicPem);
    await applySet(deps.kube, names.namespace, objects, [INGRESS], ownerLabel(mp));
    const routes = objects.filter((o) => o.kind === 'Ingress').length;
    return mp.spec.suspended
      ? ready('GatewayReady', 'Suspended', `${mp.spec.host} answers 503`)
      : ready('GatewayReady', 'Configured', `${routes} routes on ${mp.spec.host}`);
  } catch (err) {
    const reason = err instanceof GatewayConfigError ? 'InvalidGatewayConfig' : 'ApplyFailed';
    return notReady('GatewayReady', reason, errorMessage(err));
  }
}

const AUTOSCALER = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' } as const;
const INGRESS = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' } as const;

/** Deletion: drop data when asked to, then let Kubernetes collect the children. */
async function finalize(deps: MarketplaceDeps, mp: Marketplace): Promise<void> {
  if (!(mp.metadata.finalizers ?? []).includes(FINALIZER)) return;
  const names = tenantNames(mp.metadata.name);
  if ((mp.spec.deletionPolicy ?? 'Retain') === 'Delete') {
    await deps.mongo.dropTenantDatabase(names.database, names.databaseUser);
    await deps.rabbit.deleteTenant(names.vhost, names.brokerUser);
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
  const names = tenantNames(name);
  const generation = mp.metadata.generation ?? 0;
  const now = (deps.now ?? (() => new Date()))();

  const credentials = await namespaceAndCredentials(deps, mp);
  const outcomes = await Promise.all([
    databasePlane(deps, mp, credentials.databasePassword),
    messagingPlane(deps, mp, credentials.brokerPassword),
    workloadsPlane(deps, mp, credentials),
    gatewayPlane(deps, mp, credentials),
  ]);
  const planes = outcomes.map((o) => o.condition);

  let conditions = mp.status?.conditions ?? [];
  for (const update of planes) conditions = setCondition(conditions, update, generation, now);
  conditions = setCondition(conditions, aggregateReady(conditions, PLANES), generation, now);
  await writeStatus(deps.kube, deps.events, ref, mp, {
    observedGeneration: generation,
    namespace: names.namespace,
    database: names.database,
    vhost: names.vhost,
    conditions,
  });
  // A plane that is merely rolling out is polled; one that failed is retried with backoff.
  const failed = outcomes.filter(
    (o) => o.condition.status !== 'True' && o.requeueAfterMs === undefined,
  );
  if (failed.length > 0) {
    throw new PlaneFailure(
      failed.map((o) => `${o.condition.type}: ${o.condition.reason}`).join('; '),
    );
  }
  const polls = outcomes.flatMap((o) => (o.requeueAfterMs === undefined ? [] : [o.requeueAfterMs]));
  return polls.length > 0 ? { requeueAfterMs: Math.min(...polls) } : undefined;
}
