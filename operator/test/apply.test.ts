// The order applies keep while going several at once: what is named before what names it
// (Secrets before pods, a KongUpstreamPolicy before its Service, a Service before its
// Ingress), the given order within a wave.
import { applyWaves } from '../src/clients/apply.js';
import type { KubeObject } from '../src/clients/kube.js';

const object = (kind: string, name: string): KubeObject => ({
  apiVersion: 'v1',
  kind,
  metadata: { name },
});

test('a plane’s objects go in waves by kind, each in the given order', () => {
  const objects = [
    object('ConfigMap', 'tenant-config'),
    object('Deployment', 'catalog'),
    object('KongUpstreamPolicy', 'catalog'),
    object('Service', 'catalog'),
    object('HorizontalPodAutoscaler', 'catalog'),
    object('Deployment', 'users'),
    object('KongUpstreamPolicy', 'users'),
    object('Service', 'users'),
    object('Ingress', 'login'),
    object('Secret', 'signing-key'),
  ];
  const waves = applyWaves(objects).map((w) => w.map((o) => `${o.kind}/${o.metadata.name}`));
  expect(waves).toEqual([
    [
      'ConfigMap/tenant-config',
      'KongUpstreamPolicy/catalog',
      'KongUpstreamPolicy/users',
      'Secret/signing-key',
    ],
    ['Deployment/catalog', 'Service/catalog', 'Deployment/users', 'Service/users'],
    ['HorizontalPodAutoscaler/catalog', 'Ingress/login'],
  ]);
});

test('an empty set has no waves; a kind not listed goes with the workloads', () => {
  expect(applyWaves([])).toEqual([]);
  expect(applyWaves([object('Widget', 'w')]).map((w) => w.length)).toEqual([1]);
});
