// Tenants converge on events alone: with no resync and no rollout poll, a burst of
// Marketplaces becomes Ready as their Deployments' watch reports the rollouts, even when
// the connection to the apiserver is cut mid-way (every watch drops and relists). No
// tenant is left behind, and none is reconciled twice at once (the reconcile spans of
// one tenant never overlap). A deleted tenant (deletionPolicy Delete) waits for its pods
// to stop on the same events: its finalizer never polls.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { tcpCable } from '@gorten/testenv';
import { STOP_DEADLINE_MS } from '../src/marketplace/reconcile.js';
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
    for (const ms of waits) expect(ms).toBeGreaterThan(STOP_DEADLINE_MS - 60_000);
  } finally {
    await deleteMarketplaces(kube, names, 120_000).finally(() => operator.stop());
  }
});
