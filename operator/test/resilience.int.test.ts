// The operator under failure: a second replica waits for the Lease and takes over when the
// leader leaves; an operator killed mid-reconcile is replaced and converges without
// duplicates; an unreachable broker is reported while the database plane still converges.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { currentEnvFile, envVars, eventually, spawnTracked } from '@gorten/testenv';
import type { KubeObject } from '../src/clients/kube.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { findCondition } from '../src/runtime/conditions.js';
import {
  deleteMarketplaces,
  env,
  ensureCrds,
  management,
  marketplace,
  quietLog,
  secretValue,
  SHARD_LABEL,
  testConfig,
  testKube,
  waitForCondition,
  waitForEvent,
} from './support.js';

const SHARD = 'resilience';
const kube = testKube();
const admin = new MongoClient(env.mongo.url);
const run = randomBytes(2).toString('hex');
const created: string[] = [];

async function createMarketplace(base: string): Promise<string> {
  const name = `${base}-${run}`;
  await kube.create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }));
  created.push(name);
  return name;
}

beforeAll(async () => {
  await ensureCrds(kube);
});

afterAll(async () => {
  // One operator to finalize what the tests left behind.
  const cleaner = await startOperator(testConfig(SHARD), quietLog);
  await deleteMarketplaces(kube, created);
  await cleaner.stop();
  await admin.close();
  kube.close();
});

test('a second replica stays standby while the Lease is held and takes over when the leader leaves', async () => {
  const election = (identity: string) => ({
    enabled: true,
    namespace: 'default',
    name: `gorten-leader-${run}`,
    identity,
  });
  const first = await startOperator(
    testConfig(SHARD, { leaderElection: election('first') }),
    quietLog,
  );
  let second: RunningOperator | undefined;
  try {
    await eventually({ what: 'first leads', timeoutMs: 20_000 }, () =>
      first.ready() ? true : undefined,
    );
    second = await startOperator(
      testConfig(SHARD, { leaderElection: election('second') }),
      quietLog,
    );
    const led = await createMarketplace('led');
    await waitForCondition(kube, led, 'Ready', 'True');
    expect(second.ready()).toBe(false);
    expect(second.kube.counts.writes).toBe(0); // it tried for the Lease only by reading it
    const standby = await fetch(`http://127.0.0.1:${second.port}/readyz`);
    expect(standby.status).toBe(200);

    await first.stop(); // releases the Lease
    await eventually({ what: 'second leads', timeoutMs: 20_000 }, () =>
      second?.ready() ? true : undefined,
    );
    const lease = await kube.get<
      KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }
    >({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: 'default',
      name: `gorten-leader-${run}`,
    });
    expect(lease?.spec).toMatchObject({ holderIdentity: 'second', leaseTransitions: 1 });
    const after = await createMarketplace('after');
    await waitForCondition(kube, after, 'Ready', 'True');
  } finally {
    await first.stop();
    await second?.stop();
  }
});

test('an operator killed mid-reconcile is replaced and the tenant converges without duplicates', async () => {
  const name = await createMarketplace('killed');
  const ns = `mp-${name}`;
  const childEnv = {
    ...process.env,
    ...envVars(env, currentEnvFile()),
    GORTEN_LEADER_ELECT: 'false',
    GORTEN_METRICS_PORT: '0',
    GORTEN_MARKETPLACE_SELECTOR: `${SHARD_LABEL}=${SHARD}`,
    GORTEN_LOG_LEVEL: 'error',
  };
  const main = join(import.meta.dirname, '..', 'src', 'main.ts');
  const child = spawnTracked('operator', process.execPath, ['--import', 'tsx', main], {
    env: childEnv,
    stdio: 'ignore',
  });
  // Kill it as soon as it has started writing the tenant, before it could finish.
  await eventually({ what: `${ns} created by the child operator`, timeoutMs: 60_000 }, async () =>
    (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) ? true : undefined,
  );
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const replacement = await startOperator(testConfig(SHARD), quietLog);
  try {
    const ready = await waitForCondition(kube, name, 'Ready', 'True');
    expect(findCondition(ready.status?.conditions, 'DatabaseReady')?.status).toBe('True');
    const deployments = await kube.list({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: ns,
    });
    expect(deployments.items).toHaveLength(8);
    const users = (await admin.db(ns).command({ usersInfo: 1 })) as { users: { user: string }[] };
    expect(users.users.map((u) => u.user)).toEqual([`${ns}-app`]);
    const vhostUsers = (await (await management('GET', `/vhosts/${ns}/permissions`)).json()) as {
      user: string;
    }[];
    expect(vhostUsers.map((p) => p.user).sort()).toEqual([env.rabbitmq.user, `${ns}-app`].sort());
    // The password the services get is the one the database accepts.
    const secret = await kube.get({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: ns,
      name: 'mongodb-credentials',
    });
    const client = new MongoClient(secretValue(secret, 'uri'), { serverSelectionTimeoutMS: 3_000 });
    await client.db(ns).command({ ping: 1 });
    await client.close();
  } finally {
    await replacement.stop();
  }
});

test('an unreachable broker sets MessagingReady False with an Event; the database plane still converges', async () => {
  const name = `nobroker-${run}`;
  const mp = marketplace(SHARD, name, { deletionPolicy: 'Delete' });
  mp.metadata.labels = { ...mp.metadata.labels, 'gorten.io/test-case': 'nobroker' };
  await kube.create(mp);
  created.push(name);
  // This operator sees only this tenant, so its error count is this tenant's retries.
  const broken = await startOperator(
    testConfig(SHARD, {
      rabbitmq: { managementUrl: 'http://127.0.0.1:9', user: 'x', password: 'y' },
      selector: `${SHARD_LABEL}=${SHARD},gorten.io/test-case=nobroker`,
    }),
    quietLog,
  );
  try {
    const failed = await waitForCondition(
      kube,
      name,
      'MessagingReady',
      'False',
      'BrokerUnavailable',
    );
    expect(findCondition(failed.status?.conditions, 'DatabaseReady')?.status).toBe('True');
    expect(findCondition(failed.status?.conditions, 'MessagingReady')?.message).toMatch(
      /unreachable/,
    );
    await waitForEvent(kube, name, 'Warning', 'BrokerUnavailable');
    // Retries back off (1 s, 2 s, 4 s ...) instead of spinning, resyncs every 2 s included.
    const errors = async () =>
      (await broken.metrics.reconcileTotal.get()).values.find(
        (v) => v.labels.result === 'error' && v.labels.controller === 'marketplace',
      )?.value ?? 0;
    const first = await errors();
    await new Promise((r) => setTimeout(r, 3_000));
    const retries = (await errors()) - first;
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(retries).toBeLessThanOrEqual(3);
  } finally {
    await broken.stop();
  }
  // Back with a working broker: the same tenant converges, nothing was lost.
  const healthy = await startOperator(testConfig(SHARD), quietLog);
  try {
    await waitForCondition(kube, name, 'Ready', 'True');
  } finally {
    await healthy.stop();
  }
});
