// Which Deployment events queue their Marketplace: those that change what its reconcile
// would report (a rollout's end, a stop, a new generation, a deletion), not the others.
import type { KubeObject } from '../src/clients/kube.js';
import { deploymentStateChanged } from '../src/marketplace/deployments.js';

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
