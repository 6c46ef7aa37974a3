// When a change is worth a reconcile, and how one controller's reconciles trigger another's.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Kube, type KubeObject } from '../src/clients/kube.js';
import { Controller, worthReconciling } from '../src/runtime/controller.js';
import { OperatorMetrics } from '../src/runtime/metrics.js';

const meta = { name: 'a', generation: 1, resourceVersion: '10', labels: { x: '1' } };
const base: KubeObject = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Marketplace',
  metadata: meta,
  spec: { host: 'a.example.com' },
};
const changed = (
  metadata: Partial<KubeObject['metadata']>,
  rest: Record<string, unknown> = {},
): KubeObject => ({
  ...base,
  ...rest,
  metadata: { ...meta, resourceVersion: '11', ...metadata },
});

test('status-only updates (our own writes) do not trigger a reconcile', () => {
  expect(worthReconciling(base, changed({}, { status: { conditions: [] } }))).toBe(false);
});

test('spec, deletion, finalizers, labels, creation and removal do', () => {
  expect(worthReconciling(base, changed({ generation: 2 }))).toBe(true);
  expect(worthReconciling(base, changed({ deletionTimestamp: new Date() }))).toBe(true);
  expect(worthReconciling(base, changed({ finalizers: ['gorten.io/cleanup'] }))).toBe(true);
  expect(worthReconciling(base, changed({ labels: { x: '2' } }))).toBe(true);
  expect(worthReconciling(undefined, base)).toBe(true);
  expect(worthReconciling(base, undefined)).toBe(true);
});

describe('watches: a cross-kind trigger', () => {
  // Nothing is started, so nothing talks to the (unreachable) server.
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:9' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const kube = new Kube(kc);
  const log = pino({ level: 'silent' });
  const options = { concurrency: 2, resyncMs: 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000 };
  const company = (namespace: string, name: string): KubeObject => ({
    apiVersion: 'gorten.io/v1alpha1',
    kind: 'Company',
    metadata: { name, namespace },
  });

  const controller = (kind: string, reconcile: (key: string) => Promise<undefined>) =>
    new Controller<KubeObject>(
      kube,
      kc,
      { ...options, name: kind, ref: { apiVersion: 'gorten.io/v1alpha1', kind }, reconcile },
      new OperatorMetrics(),
      log,
    );

  test('after the other kind reconciles a key, the keys the map names are queued; a failed reconcile queues none', async () => {
    const seen: string[] = [];
    const parents = controller('Marketplace', (key) =>
      key === 'broken' ? Promise.reject(new Error('no')) : Promise.resolve(undefined),
    );
    const children = controller('Company', (key) => {
      seen.push(key);
      return Promise.resolve(undefined);
    });
    for (const c of [
      company('mp-acme', 'a'),
      company('mp-acme', 'b'),
      company('mp-other', 'c'),
      company('mp-broken', 'd'),
    ])
      children.informer.cache.set(`${c.metadata.namespace ?? ''}/${c.metadata.name}`, c);
    children.watches(parents, (name) => children.keysIn(`mp-${name}`));

    parents.enqueue('acme');
    parents.enqueue('broken');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.sort()).toEqual(['mp-acme/a', 'mp-acme/b']);
    await Promise.all([parents.stop(), children.stop()]);
  });
});
