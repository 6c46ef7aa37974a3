// Tenants converge on events alone: with no resync and no rollout poll, a burst of
// Marketplaces becomes Ready as their Deployments' watch reports the rollouts, even when
// the connection to the apiserver is cut mid-way (every watch drops and relists). No
// tenant is left behind, and none is reconciled twice at once (the reconcile spans of
// one tenant never overlap). A deleted tenant (deletionPolicy Delete) waits for its pods
// to stop on the same events: its finalizer never polls, and a pod that never stops holds
// it only until the deadline: then the data is dropped anyway, with a Warning Event.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { MongoClient } from 'mongodb';
import { tcpCable } from '@gorten/testenv';
import { tenantNames } from '../src/marketplace/names.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { startOperator } from '../src/operator.js';
import { captureSpans } from './spans.js';
import {
  deleteMarketplaces,
  ensureCrds,
  env,
  marketplace,
  quietLog,
  testConfig,
  testKube,
  waitForCondition,
  waitForEvent,
} from './support.js';

const SHARD = `rollout-${randomBytes(2).toString('hex')}`;
const kube = testKube();
const spans = captureSpans();
const dir = mkdtempSync(join(tmpdir(), 'gorten-rollout-'));

beforeAll(() => ensureCrds(kube));
afterAll(() => {
  kube.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A kubeconfig like the test environment's, through `server` (a cable to the apiserver). */
function kubeconfigThrough(server: string): string {
  const direct = new KubeConfig();
  direct.loadFromFile(env.kube.kubeconfig);
  const relayed = new KubeConfig();
  relayed.loadFromOptions({
    clusters: direct.clusters.map((c) => ({ ...c, server })),
    users: direct.users,
    contexts: direct.contexts,
    currentContext: direct.currentContext,
  });
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, relayed.exportConfig());
  return path;
}

test('a burst of Marketplaces becomes Ready without resync or poll, across a cut connection; no tenant reconciled twice at once', async () => {
  const cable = await tcpCable(env.kube.server);
  const operator = await startOperator(
    testConfig(SHARD, {
      kubeconfig: kubeconfigThrough(cable.url.replace(/\/$/, '')),
      resyncMs: 60 * 60_000,
    }),
    quietLog,
  );
  const names = Array.from({ length: 6 }, (_, i) => `ro-${randomBytes(2).toString('hex')}-${i}`);
  try {
    await Promise.all(
      names.map((name) => kube.create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }))),
    );
    // Mid-burst: every watch and request of the operator breaks, and stays broken a moment.
    await sleep(2_000);
    cable.connected(false);
    await sleep(1_500);
    cable.connected(true);
    for (const name of names)
      await waitForCondition(kube, name, 'Ready', 'True', undefined, 180_000);

    const reconciles = spans
      .getFinishedSpans()
      .filter((s) => s.name === 'reconcile Marketplace')
      .map((s) => ({
        name: String(s.attributes['gorten.object.name']),
        startMs: s.startTime[0] * 1e3 + s.startTime[1] / 1e6,
        endMs: s.endTime[0] * 1e3 + s.endTime[1] / 1e6,
      }));
    // One reconcile of a tenant starts only after its previous one ended. A span's start is
    // Date.now()'s whole milliseconds (its end is measured from it), hence the 1 ms.
    for (const name of names) {
      const own = reconciles.filter((r) => r.name === name).sort((a, b) => a.startMs - b.startMs);
      expect(own.length).toBeGreaterThan(0);
      for (let i = 1; i < own.length; i++)
        expect(own[i]?.startMs).toBeGreaterThanOrEqual((own[i - 1]?.endMs ?? Infinity) - 1);
    }
  } finally {
    await deleteMarketplaces(kube, names, 120_000).finally(async () => {
      await operator.stop();
      await cable.close();
    });
  }
});

test("a deleted tenant's finalizer waits for its pods on its Deployments' events, without a poll", async () => {
  const operator = await startOperator(testConfig(SHARD, { resyncMs: 60 * 60_000 }), quietLog);
  const names = Array.from({ length: 2 }, (_, i) => `rd-${randomBytes(2).toString('hex')}-${i}`);
  try {
    await Promise.all(
      names.map((name) => kube.create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }))),
    );
    for (const name of names)
      await waitForCondition(kube, name, 'Ready', 'True', undefined, 180_000);
    const deletedAtMs = Date.now();
    // With no resync and no poll, only the Deployments' events bring the finalizer back
    // once the pods it scaled to zero are gone: without them this waits in vain.
    await deleteMarketplaces(kube, names, 120_000);

    const finalizing = spans
      .getFinishedSpans()
      .filter(
        (s) =>
          s.name === 'reconcile Marketplace' &&
          names.includes(String(s.attributes['gorten.object.name'])) &&
          s.startTime[0] * 1e3 >= deletedAtMs - 1_000,
      );
    const waits = finalizing
      .map((s) => s.attributes['gorten.reconcile.requeue_after_ms'])
      .filter((ms) => ms !== undefined)
      .map(Number);
    // Each tenant waited for its pods at least once, and asked to be looked at again only
    // at the deadline (minus what had passed), never after a poll's few seconds.
    expect(waits.length).toBeGreaterThanOrEqual(names.length);
    const deadlineMs = DEFAULT_SETTINGS.tenantStopDeadlineSeconds * 1000;
    for (const ms of waits) expect(ms).toBeGreaterThan(deadlineMs - 60_000);
  } finally {
    await deleteMarketplaces(kube, names, 120_000).finally(() => operator.stop());
  }
});

test('a deleted tenant whose pod never stops is dropped at the deadline, with a DroppedWhileRunning Event', async () => {
  const base = testConfig(SHARD, { resyncMs: 60 * 60_000 });
  const operator = await startOperator(
    { ...base, settings: { ...base.settings, tenantStopDeadlineSeconds: 3 } },
    quietLog,
  );
  const name = `rs-${randomBytes(2).toString('hex')}`;
  const { namespace, database } = tenantNames(name);
  const admin = new MongoClient(env.mongo.url);
  const kc = new KubeConfig();
  kc.loadFromFile(env.kube.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api); // pods: not a kind the operator's client knows
  // A finalizer of the test's keeps one of the tenant's pods terminating, as a pod on a
  // lost node would stay: its Deployment counts it until the finalizer is gone.
  const HOLD = 'gorten.io/test-hold';
  let held: string | undefined;
  try {
    await kube.create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }));
    await waitForCondition(kube, name, 'Ready', 'True', undefined, 180_000);
    const pods = await core.listNamespacedPod({ namespace });
    held = pods.items[0]?.metadata?.name;
    if (!held) throw new Error(`no pod in ${namespace}`);
    await core.patchNamespacedPod({
      name: held,
      namespace,
      body: [{ op: 'add', path: '/metadata/finalizers', value: [HOLD] }],
    });
    await deleteMarketplaces(kube, [name], 60_000);
    await waitForEvent(kube, name, 'Warning', 'DroppedWhileRunning');
    const { databases } = await admin.db('admin').admin().listDatabases({ nameOnly: true });
    expect(databases.map((d) => d.name)).not.toContain(database);
    // The pod was still there, terminating, when the data went.
    const pod = await core.readNamespacedPod({ name: held, namespace });
    expect(pod.metadata?.deletionTimestamp).toBeDefined();
  } finally {
    if (held)
      await core
        .patchNamespacedPod({
          name: held,
          namespace,
          body: [{ op: 'remove', path: '/metadata/finalizers' }],
        })
        .catch(() => undefined); // gone with its namespace already
    await deleteMarketplaces(kube, [name], 120_000).finally(async () => {
      await operator.stop();
      await admin.close();
    });
  }
});
