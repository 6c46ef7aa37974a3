// Which Deployment events queue their Marketplace: those that change what its reconcile
// would report (a rollout's end, a stop, a new generation, a deletion), not the others;
// and that the informers' label selector and kinds cover every object the planes write
// (one missed would be rewritten on every resync).
import type { Marketplace } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import { buildGatewayPlane } from '../src/marketplace/gateway.js';
import { buildNamespacePlane } from '../src/marketplace/namespace.js';
import { CACHED_KINDS, deploymentStateChanged } from '../src/marketplace/owned.js';
import { buildWorkloadsPlane } from '../src/marketplace/workloads.js';
import { generateRsaKeyPair } from '../src/secrets.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

const deployment = (
  generation: number,
  status: Record<string, number>,
  extra: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'catalog', namespace: 'mp-a', generation, annotations: extra },
  spec: { replicas: 2 },
  status,
});

const available = { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 };

test('a new or deleted Deployment changes the state', () => {
  expect(deploymentStateChanged(undefined, deployment(1, available))).toBe(true);
  expect(deploymentStateChanged(deployment(1, available), undefined)).toBe(true);
});

test('a rollout’s end and a new generation change it; a step within the rollout does not', () => {
  const rolling = deployment(1, { ...available, availableReplicas: 1 });
  const starting = deployment(1, { ...available, availableReplicas: 0 });
  expect(deploymentStateChanged(rolling, deployment(1, available))).toBe(true);
  expect(deploymentStateChanged(starting, rolling)).toBe(false);
  expect(deploymentStateChanged(deployment(1, available), deployment(2, available))).toBe(true);
});

test('an update that changes neither (an annotation, a resync’s relist) does not', () => {
  expect(
    deploymentStateChanged(deployment(1, available), deployment(1, available, { note: 'x' })),
  ).toBe(false);
});

test('every object the planes write is of a cached kind (or a Secret) and carries the label the informers select', () => {
  const mp: Marketplace = {
    apiVersion: 'gorten.io/v1alpha1',
    kind: 'Marketplace',
    metadata: { name: 'acme', uid: 'uid-1', generation: 1 },
    spec: {
      displayName: 'ACME',
      host: 'acme.shop.example.com',
      services: { catalog: { autoscaling: { minReplicas: 1, maxReplicas: 3 } } },
    },
  };
  const keys = generateRsaKeyPair();
  const [, ...guardRails] = buildNamespacePlane(mp, DEFAULT_SETTINGS);
  const objects = [
    ...guardRails,
    ...buildWorkloadsPlane(mp, DEFAULT_SETTINGS, 'digest'),
    ...buildGatewayPlane(mp, DEFAULT_SETTINGS, keys.publicPem),
  ];
  const cached = new Set(CACHED_KINDS.map((k) => `${k.apiVersion}/${k.kind}`));
  for (const o of objects) {
    expect([`${o.apiVersion}/${o.kind}`, cached.has(`${o.apiVersion}/${o.kind}`)]).toEqual([
      `${o.apiVersion}/${o.kind}`,
      o.kind !== 'Secret',
    ]);
    expect([o.kind, o.metadata.labels?.['gorten.io/marketplace']]).toEqual([o.kind, 'acme']);
  }
  expect(new Set(objects.map((o) => o.kind))).toContain('HorizontalPodAutoscaler');
});
