// Shared set-up of the operator's integration tests: the real servers of tools/testenv,
// the operator started in-process against them, and small helpers to observe results.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { eventually, loadTestEnv, type TestEnv } from '@gorten/testenv';
import type { Marketplace } from '../src/api/types.js';
import type { OperatorConfig } from '../src/config.js';
import { Kube, type KubeObject } from '../src/clients/kube.js';
import { installCrds, readCrds } from '../src/crds.js';
import type { MarketplaceCondition } from '../src/marketplace/reconcile.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { findCondition, type Condition } from '../src/runtime/conditions.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { secretValue as decodedSecretValue } from '../src/secrets.js';

export const env: TestEnv = loadTestEnv();

export function testConfig(shard: string, overrides: Partial<OperatorConfig> = {}): OperatorConfig {
  return {
    kubeconfig: env.kube.kubeconfig,
    mongoAdminUrl: env.mongo.url,
    redisAdmin: { url: env.redis.url },
    rabbitmq: {
      managementUrl: env.rabbitmq.managementUrl,
      user: env.rabbitmq.user,
      password: env.rabbitmq.password,
    },
    settings: {
      ...DEFAULT_SETTINGS,
      mongoTenantHost: new URL(env.mongo.url).host,
      amqpTenantHost: new URL(env.rabbitmq.amqpUrl).host,
      redisTenantHost: env.redis.address,
    },
    metricsPort: 0,
    leaderElection: {
      enabled: false,
      namespace: 'default',
      name: 'gorten-operator-test',
      identity: 'test',
    },
    installCrds: false,
    resyncMs: 2_000,
    serviceMonitorRecheckMs: 300_000,
    concurrency: 4,
    logLevel: 'warn',
    selector: `${SHARD_LABEL}=${shard}`,
    ...overrides,
  };
}

export const quietLog = pino({ level: process.env.GORTEN_TEST_LOG ?? 'silent' });

export function testKube(): Kube {
  const kc = new KubeConfig();
  kc.loadFromFile(env.kube.kubeconfig);
  return new Kube(kc);
}

export async function ensureCrds(kube: Kube): Promise<void> {
  await installCrds(kube, readCrds());
}

export const MARKETPLACE = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' } as const;

/**
 * Test files run in parallel, each with its own operator: a shard label on the
 * Marketplaces and the operator's selector keep them from reconciling each other's.
 */
export const SHARD_LABEL = 'gorten.io/test-shard';

export function marketplace(
  shard: string,
  name: string,
  spec: Partial<Marketplace['spec']> = {},
): Marketplace {
  return {
    ...MARKETPLACE,
    metadata: { name, labels: { [SHARD_LABEL]: shard } },
    spec: { displayName: `Market ${name}`, host: `${name}.shop.example.com`, ...spec },
  };
}

export async function readMarketplace(kube: Kube, name: string): Promise<Marketplace | undefined> {
  return kube.get<Marketplace>({ ...MARKETPLACE, name });
}

/** Waits until the Marketplace's condition has the given status (and reason, if given). */
export async function waitForCondition(
  kube: Kube,
  name: string,
  type: MarketplaceCondition | 'Ready',
  status: Condition['status'],
  reason?: string,
  timeoutMs = 60_000,
): Promise<Marketplace> {
  let last: Condition | undefined;
  try {
    return await eventually({ what: `${name} ${type}=${status}`, timeoutMs }, async () => {
      const mp = await readMarketplace(kube, name);
      last = findCondition(mp?.status?.conditions, type);
      const generationSeen =
        (mp?.status?.observedGeneration ?? -1) === (mp?.metadata.generation ?? 0);
      return last?.status === status && (!reason || last.reason === reason) && generationSeen
        ? mp
        : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last ${type}: ${JSON.stringify(last)}`, {
      cause: err,
    });
  }
}

/** Deletes Marketplaces and waits until their finalizers have run and they are gone. */
export async function deleteMarketplaces(
  kube: Kube,
  names: string[],
  timeoutMs = 60_000,
): Promise<void> {
  await Promise.all(names.map((name) => kube.delete({ ...MARKETPLACE, name })));
  await eventually({ what: `${names.join(', ')} deleted`, timeoutMs }, async () => {
    const left = await Promise.all(names.map((name) => readMarketplace(kube, name)));
    return left.every((m) => m === undefined) ? true : undefined;
  });
}

/**
 * Registers the set-up of a test file that needs one Ready tenant: the CRDs, an operator
 * for `shard`, the Marketplace `name` (deletionPolicy Delete); and its tear-down, which
 * deletes the tenant before stopping the operator that finalizes it.
 */
export function tenantUnderTest(
  shard: string,
  name: string,
): { kube: Kube; operator: () => RunningOperator } {
  const kube = testKube();
  let operator: RunningOperator | undefined;
  beforeAll(async () => {
    await ensureCrds(kube);
    operator = await startOperator(testConfig(shard), quietLog);
    await kube.create(marketplace(shard, name, { deletionPolicy: 'Delete' }));
    await waitForCondition(kube, name, 'Ready', 'True');
  });
  afterAll(async () => {
    await deleteMarketplaces(kube, [name]);
    await operator?.stop();
    kube.close();
  });
  return {
    kube,
    operator: () => {
      if (!operator) throw new Error('the operator did not start (see beforeAll)');
      return operator;
    },
  };
}

/**
 * Waits for an Event about `involvedName` with this type and reason. Events are recorded
 * just after the status write, so a test that has seen the condition may be a moment early.
 */
export async function waitForEvent(
  kube: Kube,
  involvedName: string,
  type: 'Normal' | 'Warning',
  reason: string,
): Promise<void> {
  await eventually(
    { what: `${type} Event ${reason} about ${involvedName}`, timeoutMs: 15_000 },
    async () => {
      const events = await kube.list<KubeObject & { reason?: string; type?: string }>(
        { apiVersion: 'v1', kind: 'Event', namespace: 'default' },
        `fieldSelector=involvedObject.name=${involvedName}`,
      );
      return events.items.some((e) => e.type === type && e.reason === reason) ? true : undefined;
    },
  );
}

export function management(method: string, path: string, body?: unknown): Promise<Response> {
  const authorization = `Basic ${Buffer.from(`${env.rabbitmq.user}:${env.rabbitmq.password}`).toString('base64')}`;
  return fetch(`${env.rabbitmq.managementUrl}/api${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** A Secret's decoded value; the test fails if it is missing. */
export function secretValue(secret: KubeObject | undefined, key: string): string {
  const value = decodedSecretValue(secret, key);
  if (value === undefined) throw new Error(`secret has no ${key}`);
  return value;
}
