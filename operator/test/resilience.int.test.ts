// The operator under failure: a second replica waits for the Lease and takes over when the
// leader leaves; a leader whose apiserver stops answering steps down before a standby
// takes over; an operator killed mid-reconcile is replaced and converges without
// duplicates; an unreachable broker is reported while the database plane still converges.
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { MongoClient } from 'mongodb';
import { currentEnvFile, envVars, eventually, spawnTracked } from '@gorten/testenv';
import { Kube, type KubeObject } from '../src/clients/kube.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { LeaderElector } from '../src/runtime/lease.js';
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

/**
 * A TCP relay to the apiserver that can go silent: connections stay open, nothing passes,
 * as when a network path or an overloaded apiserver hangs.
 */
async function silenceableRelay(target: URL): Promise<{
  url: string;
  silence: () => void;
  close: () => Promise<void>;
}> {
  let silent = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk) => {
        if (!silent) to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    silence: () => {
      silent = true;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('a leader whose apiserver stops answering stops leading before a standby takes over', async () => {
  const relay = await silenceableRelay(new URL(env.kube.server));
  const direct = new KubeConfig();
  direct.loadFromFile(env.kube.kubeconfig);
  const relayed = new KubeConfig();
  relayed.loadFromOptions({
    clusters: direct.clusters.map((c) => ({ ...c, server: relay.url })),
    users: direct.users,
    contexts: direct.contexts,
    currentContext: direct.currentContext,
  });
  const timing = {
    namespace: 'default',
    name: `gorten-deadline-${run}`,
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2_000,
    requestTimeoutMs: 1_000,
    retryPeriodMs: 300,
  };
  const [leaderKube, standbyKube] = [new Kube(relayed), new Kube(direct)];
  const leader = new LeaderElector(leaderKube, { ...timing, identity: 'leader' });
  const standby = new LeaderElector(standbyKube, { ...timing, identity: 'standby' });
  const seen: string[] = [];
  const callbacks = (who: string) => ({
    onStartedLeading: () => {
      seen.push(`${who} leads`);
      return Promise.resolve();
    },
    onStoppedLeading: () => {
      seen.push(`${who} stops`);
    },
  });
  try {
    void leader.run(callbacks('leader'));
    await eventually({ what: 'the leader leads', timeoutMs: 10_000 }, () =>
      leader.isLeader ? true : undefined,
    );
    void standby.run(callbacks('standby'));
    relay.silence();
    await eventually({ what: 'the standby takes over', timeoutMs: 20_000 }, () =>
      standby.isLeader ? true : undefined,
    );
    // Never two leaders: the silenced one had stopped before the standby started.
    expect(seen).toEqual(['leader leads', 'leader stops', 'standby leads']);
  } finally {
    await standby.release();
    await relay.close();
    await leader.release().catch(() => undefined);
    leaderKube.close();
    standbyKube.close();
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
