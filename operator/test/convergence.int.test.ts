// Updates to a running tenant converge: replicas, autoscaling, rate limit, Kong's timeouts
// and circuit breaker, suspend and resume, a new host; hand edits to Deployments,
// KongPlugins, Services and KongUpstreamPolicies are undone.
import { randomBytes } from 'node:crypto';
import { eventually } from '@gorten/testenv';
import type { KubeObject } from '../src/clients/kube.js';
import { MARKETPLACE, tenantUnderTest, waitForCondition } from './support.js';

const SHARD = 'lifecycle';
const mp = `life-${randomBytes(2).toString('hex')}`;
const ns = `mp-${mp}`;
const { kube } = tenantUnderTest(SHARD, mp);

type Deployment = KubeObject & {
  spec: { replicas?: number };
  status?: { availableReplicas?: number };
};
type Ingress = KubeObject & { spec: { rules: { host: string }[] } };

const deployment = (name: string) =>
  kube.get<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name });
const ingresses = async () =>
  (await kube.list<Ingress>({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: ns }))
    .items;
const plugin = (name: string) =>
  kube.get<KubeObject & { config: Record<string, unknown> }>({
    apiVersion: 'configuration.konghq.com/v1',
    kind: 'KongPlugin',
    namespace: ns,
    name,
  });
const patchSpec = (spec: Record<string, unknown>) =>
  kube.mergePatch({ ...MARKETPLACE, name: mp }, { spec });

test('more replicas for one service: the Deployment scales and becomes available', async () => {
  await patchSpec({ services: { checkout: { replicas: 3 } } });
  await waitForCondition(kube, mp, 'WorkloadsReady', 'True', 'Available');
  expect(await deployment('checkout')).toMatchObject({
    spec: { replicas: 3 },
    status: { availableReplicas: 3 },
  });
  expect((await deployment('orders'))?.spec.replicas).toBe(1);
});

test('autoscaling adds an HPA that owns the replica count; removing it removes the HPA', async () => {
  await patchSpec({
    services: {
      checkout: { replicas: 3 },
      catalog: { autoscaling: { minReplicas: 2, maxReplicas: 6 } },
    },
  });
  const hpa = await eventually({ what: 'catalog HPA', timeoutMs: 30_000 }, () =>
    kube.get<KubeObject & { spec: { minReplicas: number; maxReplicas: number } }>({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      namespace: ns,
      name: 'catalog',
    }),
  );
  expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  await patchSpec({ services: { checkout: { replicas: 3 }, catalog: null } });
  await eventually({ what: 'catalog HPA removed', timeoutMs: 30_000 }, async () =>
    (await kube.get({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      namespace: ns,
      name: 'catalog',
    }))
      ? undefined
      : true,
  );
});

test('a new rate limit reaches the KongPlugin', async () => {
  await patchSpec({ gateway: { rateLimitPerMinute: 120 } });
  await eventually({ what: 'rate limit 120', timeoutMs: 30_000 }, async () =>
    (await plugin('tenant-rate-limit'))?.config.minute === 120 ? true : undefined,
  );
});

test('suspending scales everything to zero and leaves one route answering 503; resuming restores it', async () => {
  await patchSpec({ suspended: true });
  await waitForCondition(kube, mp, 'GatewayReady', 'True', 'Suspended');
  await waitForCondition(kube, mp, 'WorkloadsReady', 'True', 'Suspended');
  expect((await deployment('checkout'))?.spec.replicas).toBe(0);
  const routes = await ingresses();
  expect(routes.map((i) => i.metadata.name)).toEqual(['fallback']);
  expect(routes[0]?.metadata.annotations?.['konghq.com/plugins']).toContain('tenant-suspended');

  await patchSpec({ suspended: false });
  await waitForCondition(kube, mp, 'GatewayReady', 'True', 'Configured');
  await waitForCondition(kube, mp, 'Ready', 'True');
  expect((await deployment('checkout'))?.spec.replicas).toBe(3);
  expect((await ingresses()).length).toBeGreaterThan(1);
});

test('a new host moves every route', async () => {
  await patchSpec({ host: `new-${mp}.shop.example.com` });
  await eventually({ what: 'routes on the new host', timeoutMs: 30_000 }, async () => {
    const all = await ingresses();
    return all.every((i) => i.spec.rules[0]?.host === `new-${mp}.shop.example.com`)
      ? true
      : undefined;
  });
});

test('a new read timeout and circuit breaker reach the Service and its KongUpstreamPolicy; hand edits to them are undone', async () => {
  const service = () =>
    kube.get({ apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'checkout' });
  const policyRef = {
    apiVersion: 'configuration.konghq.com/v1beta1',
    kind: 'KongUpstreamPolicy',
    namespace: ns,
    name: 'checkout',
  };
  type Policy = KubeObject & {
    spec: { healthchecks: { passive: { unhealthy: { httpFailures: number } } } };
  };
  const serverErrors = async () =>
    (await kube.get<Policy>(policyRef))?.spec.healthchecks.passive.unhealthy.httpFailures;
  await patchSpec({
    gateway: {
      timeouts: { checkout: { readMilliseconds: 45_000 } },
      upstream: { circuitBreaker: { serverErrors: 7 } },
    },
  });
  await eventually({ what: 'checkout read timeout and breaker', timeoutMs: 30_000 }, async () =>
    (await service())?.metadata.annotations?.['konghq.com/read-timeout'] === '45000' &&
    (await serverErrors()) === 7
      ? true
      : undefined,
  );
  // By hand: retries on the checkout, a breaker that never opens.
  await kube.mergePatch(
    { apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'checkout' },
    { metadata: { annotations: { 'konghq.com/retries': '5' } } },
  );
  await kube.mergePatch(policyRef, {
    spec: { healthchecks: { passive: { unhealthy: { httpFailures: 0 } } } },
  });
  await eventually(
    { what: 'checkout retries and breaker restored', timeoutMs: 30_000 },
    async () =>
      (await service())?.metadata.annotations?.['konghq.com/retries'] === '0' &&
      (await serverErrors()) === 7
        ? true
        : undefined,
  );
  await waitForCondition(kube, mp, 'Ready', 'True');
});

test('a deleted Deployment and a hand-edited KongPlugin are restored within a resync', async () => {
  await kube.delete({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'payments' });
  await kube.mergePatch(
    {
      apiVersion: 'configuration.konghq.com/v1',
      kind: 'KongPlugin',
      namespace: ns,
      name: 'tenant-acl',
    },
    { config: { allow: ['everyone'] } },
  );
  await eventually({ what: 'payments and tenant-acl restored', timeoutMs: 30_000 }, async () => {
    const [payments, acl] = await Promise.all([deployment('payments'), plugin('tenant-acl')]);
    return payments && JSON.stringify(acl?.config.allow) === JSON.stringify([ns])
      ? true
      : undefined;
  });
  await waitForCondition(kube, mp, 'Ready', 'True');
});
