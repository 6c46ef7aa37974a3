import type { KubeObject } from '../src/clients/kube.js';
import { worthReconciling } from '../src/runtime/controller.js';

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
