// The Marketplace controller against real servers: kube-apiserver, FerretDB, RabbitMQ.
import { randomBytes, sign, verify } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { connect } from 'amqplib';
import { eventually } from '@gorten/testenv';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { tenantTopology } from '../src/marketplace/topology.js';
import { findCondition, type Condition } from '../src/runtime/conditions.js';
import { FINALIZER, SERVICE_NAMES } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import {
  env,
  ensureCrds,
  deleteMarketplaces,
  management,
  marketplace,
  MARKETPLACE,
  quietLog,
  readMarketplace,
  secretValue,
  SHARD_LABEL,
  testConfig,
  testKube,
  waitForCondition,
  waitForEvent,
} from './support.js';

const kube = testKube();
const admin = new MongoClient(env.mongo.url);
const SHARD = 'marketplace';
const run = randomBytes(2).toString('hex');
const name = (base: string): string => `${base}-${run}`;
let operator: RunningOperator;
/** Where this file's operator says the tenants' spans go (nothing listens: pods are simulated). */
const COLLECTOR = {
  otlpEndpoint: 'http://otel-collector.observability.svc:4318',
  sampleRatio: 0.5,
};

beforeAll(async () => {
  await ensureCrds(kube);
  const config = testConfig(SHARD);
  operator = await startOperator(
    { ...config, settings: { ...config.settings, tenantTracing: COLLECTOR } },
    quietLog,
  );
});

afterAll(async () => {
  // undefined when beforeAll failed; that failure is the one to report
  await (operator as RunningOperator | undefined)?.stop();
  await admin.close();
  kube.close();
});

async function secret(namespace: string, secretName: string) {
  return kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: secretName });
}

async function mongoLogin(namespace: string): Promise<void> {
  const s = await secret(namespace, 'mongodb-credentials');
  const client = new MongoClient(secretValue(s, 'uri'), { serverSelectionTimeoutMS: 3_000 });
  try {
    await client.db(secretValue(s, 'database')).collection('probe').insertOne({ at: new Date() });
  } finally {
    await client.close();
  }
}

async function amqpLogin(namespace: string): Promise<void> {
  const s = await secret(namespace, 'rabbitmq-credentials');
  const connection = await connect(secretValue(s, 'uri'));
  try {
    const channel = await connection.createChannel();
    await channel.checkQueue('order_created');
  } finally {
    await connection.close();
  }
}

describe('a new Marketplace', () => {
  const mp = name('acme');
  const ns = `mp-${mp}`;

  beforeAll(async () => {
    await kube.create(
      marketplace(SHARD, mp, { deletionPolicy: 'Delete', tracing: { sampleRatio: 0.25 } }),
    );
  });

  const tenantConfig = async () =>
    (await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'tenant-config' }))
      ?.data as Record<string, string> | undefined;

  test('becomes Ready with every plane provisioned', async () => {
    const ready = await waitForCondition(kube, mp, 'Ready', 'True');
    expect(findCondition(ready.status?.conditions, 'DatabaseReady')).toMatchObject({
      status: 'True',
      reason: 'Provisioned',
    });
    expect(findCondition(ready.status?.conditions, 'MessagingReady')).toMatchObject({
      status: 'True',
      reason: 'Provisioned',
    });
    expect(ready.status).toMatchObject({
      namespace: ns,
      database: ns,
      vhost: ns,
      observedGeneration: ready.metadata.generation,
    });
    expect(ready.metadata.finalizers).toContain(FINALIZER);
  });

  test('on a server without roles (FerretDB) says its database is not isolated, with a Warning, and stays Ready', async () => {
    const ready = await waitForCondition(kube, mp, 'Ready', 'True');
    expect(findCondition(ready.status?.conditions, 'DatabaseIsolated')).toMatchObject({
      status: 'False',
      reason: 'NoRoleSupport',
    });
    expect(findCondition(ready.status?.conditions, 'DatabaseIsolated')?.message).toMatch(
      /other tenants/,
    );
    await waitForEvent(kube, mp, 'Warning', 'NoRoleSupport');
  });

  test('owns a namespace with quota, container defaults and a default-deny NetworkPolicy', async () => {
    const namespace = await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    expect(namespace?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Marketplace',
      name: mp,
      controller: true,
    });
    const quota = await kube.get({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      namespace: ns,
      name: 'tenant-quota',
    });
    expect(quota?.spec).toMatchObject({ hard: { pods: '60' } });
    const limits = await kube.get({
      apiVersion: 'v1',
      kind: 'LimitRange',
      namespace: ns,
      name: 'tenant-defaults',
    });
    expect(limits?.spec).toMatchObject({
      limits: [{ type: 'Container', defaultRequest: { cpu: '100m' } }],
    });
    const policy = await kube.get({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: ns,
      name: 'tenant-ingress',
    });
    expect(policy?.spec).toMatchObject({
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'gorten.io/role': 'gateway' } } },
            expect.anything(),
            { podSelector: {} },
          ],
        },
      ],
    });
  });

  test('its services can log in to their database and vhost with the generated Secrets', async () => {
    await mongoLogin(ns);
    await amqpLogin(ns);
    const s = await secret(ns, 'mongodb-credentials');
    expect(secretValue(s, 'password')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The first admin, whom the users service creates at start, and the mail relay.
    const admin = await secret(ns, 'admin-credentials');
    expect(secretValue(admin, 'email')).toBe(`admin@${mp}.shop.example.com`);
    expect(secretValue(admin, 'password')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(secretValue(await secret(ns, 'smtp-relay'), 'uri')).toMatch(/^smtps?:\/\//);
    // The key of checkout's and orders' request fingerprints.
    expect(secretValue(await secret(ns, 'idempotency-key'), 'hmac-key')).toMatch(
      /^[A-Za-z0-9_-]{43}$/,
    );
  });

  test('runs every service as a Deployment, available on the simulated nodes, with a Service and a PDB', async () => {
    const deployments = await kube.list<KubeObject>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: ns,
    });
    expect(deployments.items.map((d) => d.metadata.name).sort()).toEqual([...SERVICE_NAMES].sort());
    const checkout = deployments.items.find((d) => d.metadata.name === 'checkout') as KubeObject & {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: Record<string, unknown>[] };
        };
      };
      status: { availableReplicas: number };
    };
    expect(checkout.status.availableReplicas).toBe(1);
    expect(checkout.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
    });
    expect(checkout.spec.template.spec.containers[0]).toMatchObject({
      args: ['checkout'],
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
      envFrom: [{ configMapRef: { name: 'tenant-config' } }],
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- jest matchers are typed any
      env: expect.arrayContaining([
        {
          name: 'MONGODB_URI',
          valueFrom: { secretKeyRef: { name: 'mongodb-credentials', key: 'uri' } },
        },
      ]),
    });
    const services = await kube.list<KubeObject>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: ns,
    });
    expect(services.items).toHaveLength(SERVICE_NAMES.length);
    const pdbs = await kube.list<KubeObject>({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      namespace: ns,
    });
    expect(pdbs.items).toHaveLength(SERVICE_NAMES.length);
  });

  test('publishes its routes on Kong with valid plugins and a consumer that verifies the tenant’s tokens', async () => {
    const ingresses = await kube.list<KubeObject & { spec: { rules: { host: string }[] } }>({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      namespace: ns,
    });
    const plugins = await kube.list<KubeObject & { plugin: string }>({
      apiVersion: 'configuration.konghq.com/v1',
      kind: 'KongPlugin',
      namespace: ns,
    });
    const defined = new Set(plugins.items.map((p) => p.metadata.name));
    for (const ingress of ingresses.items) {
      expect(ingress.spec.rules[0]?.host).toBe(`${mp}.shop.example.com`);
      for (const name of (ingress.metadata.annotations?.['konghq.com/plugins'] ?? '').split(','))
        expect(defined).toContain(name);
    }
    const orders = ingresses.items.find((i) => i.metadata.name === 'route-orders');
    expect(orders?.metadata.annotations?.['konghq.com/plugins']?.split(',')).toEqual(
      expect.arrayContaining(['tenant-jwt', 'tenant-acl']),
    );
    const fallback = ingresses.items.find((i) => i.metadata.name === 'fallback');
    expect(fallback?.metadata.annotations?.['konghq.com/plugins']).toContain('tenant-not-found');

    const consumer = await kube.get<KubeObject & { credentials: string[] }>({
      apiVersion: 'configuration.konghq.com/v1',
      kind: 'KongConsumer',
      namespace: ns,
      name: 'token-issuer',
    });
    expect(consumer?.credentials).toEqual(['issuer-jwt-credential', 'issuer-acl-credential']);
    const credential = await secret(ns, 'issuer-jwt-credential');
    expect(credential?.metadata.labels?.['konghq.com/credential']).toBe('jwt');
    expect(secretValue(await secret(ns, 'issuer-acl-credential'), 'group')).toBe(ns);
    // A token signed with the tenant's private key verifies with the key Kong was given.
    const signing = await secret(ns, 'jwt-signing-key');
    const payload = Buffer.from(
      JSON.stringify({ iss: secretValue(credential, 'key'), exp: 2_000_000_000 }),
    );
    const signature = sign('sha256', payload, secretValue(signing, 'private.pem'));
    expect(verify('sha256', payload, secretValue(credential, 'rsa_public_key'), signature)).toBe(
      true,
    );
    expect(secretValue(credential, 'algorithm')).toBe('RS256');
  });

  test('tells Kong per Service how to call it, with a KongUpstreamPolicy of its own', async () => {
    const services = await kube.list<KubeObject>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: ns,
    });
    const policies = await kube.list<KubeObject & { spec: { healthchecks: unknown } }>({
      apiVersion: 'configuration.konghq.com/v1beta1',
      kind: 'KongUpstreamPolicy',
      namespace: ns,
    });
    expect(policies.items.map((p) => p.metadata.name).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const service of services.items) {
      const annotations = service.metadata.annotations ?? {};
      expect(annotations['konghq.com/upstream-policy']).toBe(service.metadata.name);
      expect(Number(annotations['konghq.com/read-timeout'])).toBeGreaterThan(0);
    }
    const checkout = services.items.find((s) => s.metadata.name === 'checkout');
    expect(checkout?.metadata.annotations?.['konghq.com/retries']).toBe('0');
    expect(policies.items[0]?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Marketplace' });
  });

  test('its vhost holds the whole topology from rabbitmq/topology.json, as quorum queues', async () => {
    const queues = (await (await management('GET', `/queues/${ns}`)).json()) as {
      name: string;
      type: string;
    }[];
    const wanted = tenantTopology()
      .queues.map((q) => q.name)
      .sort();
    expect(queues.map((q) => q.name).sort()).toEqual(wanted);
    expect(new Set(queues.map((q) => q.type))).toEqual(new Set(['quorum']));
    const bindings = (await (await management('GET', `/bindings/${ns}`)).json()) as {
      source: string;
      routing_key: string;
      destination: string;
    }[];
    expect(bindings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          source: 'order_exchange',
          routing_key: 'order.created',
          destination: 'order_created',
        }),
        expect.objectContaining({
          source: 'product_exchange',
          routing_key: 'product.updated',
          destination: 'inventory_update',
        }),
      ]),
    );
  });

  test('serves /metrics with reconcile totals and tenants by condition, and /healthz and /readyz', async () => {
    const base = `http://127.0.0.1:${operator.port}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /gorten_operator_reconcile_total\{controller="marketplace",result="success"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gorten_operator_marketplaces\{condition="Ready",status="True"\} [1-9]/,
    );
    expect(metrics).toContain('gorten_operator_reconcile_duration_seconds_bucket');
    expect(metrics).toContain('gorten_operator_workqueue_depth');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test('once converged, resyncs make no writes', async () => {
    await waitForCondition(kube, mp, 'Ready', 'True');
    await sleep(2_500); // let any reconcile in flight finish
    const writes = () =>
      operator.kube.counts.writes +
      operator.mongo.writes +
      operator.rabbit.writes +
      (operator.redis?.writes ?? 0);
    const before = writes();
    const reconciles = () =>
      operator.metrics.reconcileTotal.get().then((m) => m.values.reduce((n, v) => n + v.value, 0));
    const reconcilesBefore = await reconciles();
    await sleep(4_500); // two resync periods
    expect(await reconciles()).toBeGreaterThan(reconcilesBefore);
    expect(writes() - before).toBe(0);
  });

  test('drift in every plane is corrected within a resync', async () => {
    const oldPassword = secretValue(await secret(ns, 'mongodb-credentials'), 'password');
    await kube.delete({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: ns,
      name: 'mongodb-credentials',
    });
    await kube.delete({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: ns,
      name: 'tenant-ingress',
    });
    await kube.mergePatch(
      { apiVersion: 'v1', kind: 'ResourceQuota', namespace: ns, name: 'tenant-quota' },
      { spec: { hard: { pods: '1000' } } },
    );
    expect((await management('DELETE', `/queues/${ns}/order_paid`)).status).toBe(204);
    expect(
      (
        await management(
          'DELETE',
          `/bindings/${ns}/e/product_exchange/q/inventory_update/product.added`,
        )
      ).status,
    ).toBe(204);
    expect(
      (await management('PUT', `/users/${ns}-app`, { password: 'changed-by-hand', tags: '' }))
        .status,
    ).toBe(204);
    await admin.db(ns).command({ dropUser: `${ns}-app` });

    await eventually({ what: 'every plane restored', timeoutMs: 30_000 }, async () => {
      const quota = await kube.get({
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        namespace: ns,
        name: 'tenant-quota',
      });
      const policy = await kube.get({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        namespace: ns,
        name: 'tenant-ingress',
      });
      const queue = await management('GET', `/queues/${ns}/order_paid`);
      const binding = await management(
        'GET',
        `/bindings/${ns}/e/product_exchange/q/inventory_update/product.added`,
      );
      const ok =
        (quota?.spec as { hard: { pods: string } }).hard.pods === '60' &&
        policy &&
        queue.status === 200 &&
        binding.status === 200;
      if (!ok) return undefined;
      await mongoLogin(ns);
      await amqpLogin(ns);
      return true;
    });
    const newPassword = secretValue(await secret(ns, 'mongodb-credentials'), 'password');
    expect(newPassword).not.toBe(oldPassword);
    await waitForCondition(kube, mp, 'Ready', 'True');
  });

  test('its ConfigMap sends the services’ spans to the operator’s collector, sampled at the spec’s ratio', async () => {
    expect(await tenantConfig()).toMatchObject({
      MARKETPLACE: mp,
      OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR.otlpEndpoint,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
  });

  test('without the spec’s ratio it takes the operator’s, and the pods roll', async () => {
    const digest = async () => {
      const checkout = await kube.get<KubeObject & { spec: { template: KubeObject } }>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: ns,
        name: 'checkout',
      });
      return checkout?.spec.template.metadata.annotations?.['gorten.io/config-digest'];
    };
    const before = await digest();
    expect(before).toBeDefined();
    await kube.mergePatch({ ...MARKETPLACE, name: mp }, { spec: { tracing: null } });
    await eventually(
      { what: 'the operator’s ratio in the ConfigMap', timeoutMs: 30_000 },
      async () =>
        (await tenantConfig())?.OTEL_TRACES_SAMPLER_ARG === String(COLLECTOR.sampleRatio)
          ? true
          : undefined,
    );
    await eventually({ what: 'a new config digest on the pods', timeoutMs: 30_000 }, async () =>
      (await digest()) !== before ? true : undefined,
    );
  });

  test('with deletionPolicy Delete, deleting it drops the database and the vhost', async () => {
    await kube.delete({ ...MARKETPLACE, name: mp });
    await eventually({ what: `${mp} gone`, timeoutMs: 30_000 }, async () =>
      (await readMarketplace(kube, mp)) ? undefined : true,
    );
    const { databases } = await admin.db('admin').admin().listDatabases({ nameOnly: true });
    expect(databases.map((d) => d.name)).not.toContain(ns);
    expect((await management('GET', `/vhosts/${ns}`)).status).toBe(404);
    expect((await management('GET', `/users/${ns}-app`)).status).toBe(404);
    await eventually({ what: `namespace ${ns} gone`, timeoutMs: 60_000 }, async () =>
      (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) ? undefined : true,
    );
  });
});

test('with deletionPolicy Delete, the database is dropped after the workloads stopped and stays dropped, a Company deleted with it included', async () => {
  const mp = name('drain');
  const ns = `mp-${mp}`;
  const seller = { apiVersion: 'gorten.io/v1alpha1', kind: 'Company', namespace: ns } as const;
  const orders = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'orders' };
  await kube.create(marketplace(SHARD, mp, { deletionPolicy: 'Delete' }));
  await waitForCondition(kube, mp, 'Ready', 'True');
  await kube.create({
    ...seller,
    metadata: { name: 'seller', namespace: ns, labels: { [SHARD_LABEL]: SHARD } },
    spec: { displayName: 'Seller', contactEmail: 'seller@example.com' },
  });
  await eventually({ what: 'the Company registered', timeoutMs: 30_000 }, async () => {
    const company = await kube.get<KubeObject & { status?: { conditions?: Condition[] } }>({
      ...seller,
      name: 'seller',
    });
    return findCondition(company?.status?.conditions, 'Registered')?.status === 'True'
      ? true
      : undefined;
  });
  // kwok's pods run nothing: this loop is the orders pod, writing with the tenant's
  // credentials for as long as its Deployment has pods.
  const tenant = new MongoClient(secretValue(await secret(ns, 'mongodb-credentials'), 'uri'), {
    serverSelectionTimeoutMS: 2_000,
  });
  const running = async () =>
    ((await kube.get<KubeObject & { status?: { replicas?: number } }>(orders))?.status?.replicas ??
      0) > 0;
  await tenant.db(ns).collection('orders').insertOne({ at: new Date() });
  const pod = eventually({ what: 'the orders pod stopped', timeoutMs: 90_000 }, async () => {
    if (!(await running())) return true;
    await tenant.db(ns).collection('orders').insertOne({ at: new Date() });
    return undefined;
  });
  try {
    await Promise.all([
      kube.delete({ ...seller, name: 'seller' }),
      kube.delete({ ...MARKETPLACE, name: mp }),
    ]);
    await eventually({ what: `${mp} and its Company finalized`, timeoutMs: 60_000 }, async () =>
      (await readMarketplace(kube, mp)) || (await kube.get({ ...seller, name: 'seller' }))
        ? undefined
        : true,
    );
    await pod;
  } finally {
    await tenant.close();
  }
  const { databases } = await admin.db('admin').admin().listDatabases({ nameOnly: true });
  expect(databases.map((d) => d.name)).not.toContain(ns);
});

test('with deletionPolicy Retain (the default), the database and vhost outlive the Marketplace', async () => {
  const mp = name('keep');
  const ns = `mp-${mp}`;
  await kube.create(marketplace(SHARD, mp));
  await waitForCondition(kube, mp, 'Ready', 'True');
  await admin
    .db(ns)
    .collection('orders')
    .insertOne({ _id: 'o1' } as never);
  await kube.delete({ ...MARKETPLACE, name: mp });
  await eventually({ what: `${mp} gone`, timeoutMs: 30_000 }, async () =>
    (await readMarketplace(kube, mp)) ? undefined : true,
  );
  expect(await admin.db(ns).collection('orders').countDocuments()).toBe(1);
  expect((await management('GET', `/vhosts/${ns}`)).status).toBe(200);
  await admin.db(ns).dropDatabase();
  await management('DELETE', `/vhosts/${ns}`);
  await management('DELETE', `/users/${ns}-app`);
});

test('a namespace that exists for something else is refused with NamespaceConflict, and deleting the Marketplace leaves it and its contents', async () => {
  const mp = name('taken');
  const ns = `mp-${mp}`;
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'theirs' } as const;
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await kube.create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: configMap.name, namespace: ns },
    data: { owner: 'someone else' },
  });
  try {
    await kube.create(marketplace(SHARD, mp, { deletionPolicy: 'Delete' }));
    const refused = await waitForCondition(kube, mp, 'Ready', 'False', 'NamespaceConflict');
    expect(findCondition(refused.status?.conditions, 'Ready')?.message).toContain(ns);
    await waitForEvent(kube, mp, 'Warning', 'NamespaceConflict');
    // A Company there is not this tenant's either: refused, nothing written for it.
    const seller = { apiVersion: 'gorten.io/v1alpha1', kind: 'Company', namespace: ns } as const;
    await kube.create({
      ...seller,
      metadata: { name: 'seller', namespace: ns, labels: { [SHARD_LABEL]: SHARD } },
      spec: { displayName: 'Seller', contactEmail: 'seller@example.com' },
    });
    await eventually({ what: 'the Company refused', timeoutMs: 30_000 }, async () => {
      const company = await kube.get<KubeObject & { status?: { conditions?: Condition[] } }>({
        ...seller,
        name: 'seller',
      });
      return findCondition(company?.status?.conditions, 'Registered')?.reason === 'NoMarketplace'
        ? true
        : undefined;
    });
    // Nothing was put into it, and it was not adopted.
    const quota = { apiVersion: 'v1', kind: 'ResourceQuota', namespace: ns, name: 'tenant-quota' };
    expect(await kube.get(quota)).toBeUndefined();
    await deleteMarketplaces(kube, [mp]);
    const namespace = await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    expect(namespace?.metadata.ownerReferences ?? []).toEqual([]);
    expect(namespace?.metadata.deletionTimestamp).toBeUndefined();
    expect((await kube.get(configMap))?.data).toEqual({ owner: 'someone else' });
    const secrets = await kube.list({ apiVersion: 'v1', kind: 'Secret', namespace: ns });
    expect(secrets.items.map((s) => s.metadata.name)).toEqual([]);
  } finally {
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  }
});

test('a second Marketplace on a host another one uses gets HostConflict and no Ingress; the first keeps the host', async () => {
  const [first, second] = [name('host-a'), name('host-b')];
  const host = `${first}.shop.example.com`;
  const ingressHosts = async (mp: string) =>
    (
      await kube.list<KubeObject & { spec: { rules: { host: string }[] } }>({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        namespace: `mp-${mp}`,
      })
    ).items.map((i) => i.spec.rules[0]?.host);
  await kube.create(marketplace(SHARD, first, { deletionPolicy: 'Delete' }));
  await waitForCondition(kube, first, 'Ready', 'True');
  await kube.create(marketplace(SHARD, second, { host, deletionPolicy: 'Delete' }));
  try {
    const refused = await waitForCondition(kube, second, 'GatewayReady', 'False', 'HostConflict');
    expect(findCondition(refused.status?.conditions, 'GatewayReady')?.message).toContain(first);
    expect(findCondition(refused.status?.conditions, 'DatabaseReady')?.status).toBe('True');
    await waitForEvent(kube, second, 'Warning', 'HostConflict');
    expect(await ingressHosts(second)).toEqual([]);
    const kept = await ingressHosts(first);
    expect(kept.length).toBeGreaterThan(1);
    expect(new Set(kept)).toEqual(new Set([host]));
    await waitForCondition(kube, first, 'Ready', 'True');
    // Once the first is gone, the host is free for the second.
    await deleteMarketplaces(kube, [first]);
    await waitForCondition(kube, second, 'GatewayReady', 'True', 'Configured');
  } finally {
    await deleteMarketplaces(kube, [first, second]);
  }
});

test('a tenant whose broker state conflicts is reported, and another tenant still converges', async () => {
  const [broken, healthy] = [name('broken'), name('healthy')];
  const ns = `mp-${broken}`;
  // Someone made order_created a classic queue in the tenant's vhost before the operator did.
  await management('PUT', `/vhosts/${ns}`);
  await management('PUT', `/permissions/${ns}/${env.rabbitmq.user}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  expect(
    (await management('PUT', `/queues/${ns}/order_created`, { durable: true, arguments: {} }))
      .status,
  ).toBe(201);
  await kube.create(marketplace(SHARD, broken, { deletionPolicy: 'Delete' }));
  await kube.create(marketplace(SHARD, healthy, { deletionPolicy: 'Delete' }));

  const failed = await waitForCondition(
    kube,
    broken,
    'MessagingReady',
    'False',
    'TopologyConflict',
  );
  expect(findCondition(failed.status?.conditions, 'MessagingReady')?.message).toMatch(
    /order_created/,
  );
  expect(findCondition(failed.status?.conditions, 'DatabaseReady')?.status).toBe('True');
  expect(findCondition(failed.status?.conditions, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'PlanesNotReady',
  });
  await waitForCondition(kube, healthy, 'Ready', 'True');
  // The conflicting queue is reported, never deleted (it might hold messages).
  expect((await management('GET', `/queues/${ns}/order_created`)).status).toBe(200);
  await waitForEvent(kube, broken, 'Warning', 'TopologyConflict');

  await deleteMarketplaces(kube, [broken, healthy]);
});

describe('invalid specs are rejected by the apiserver with a clear message', () => {
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    ['a host that is not a DNS name', { host: 'Not A Host' }, 422, /spec.host/],
    ['an unknown deletionPolicy', { deletionPolicy: 'Shred' }, 422, /spec.deletionPolicy/],
    ['a currency that is not ISO 4217', { currency: 'euro' }, 422, /spec.currency/],
    [
      'autoscaling with min above max',
      { services: { checkout: { autoscaling: { minReplicas: 5, maxReplicas: 2 } } } },
      422,
      /minReplicas must not exceed maxReplicas/,
    ],
    ['a CORS origin with a wildcard', { gateway: { corsOrigins: ['*'] } }, 422, /corsOrigins/],
    [
      'a sample ratio above 1',
      { tracing: { sampleRatio: 1.5 } },
      422,
      /spec.tracing.sampleRatio.*less than or equal to 1/,
    ],
    [
      'a negative sample ratio',
      { tracing: { sampleRatio: -0.1 } },
      422,
      /spec.tracing.sampleRatio.*greater than or equal to 0/,
    ],
    // kubectl validates fields strictly by default; unknown fields are a 400 then.
    [
      'an unknown service',
      { services: { shipping: { replicas: 1 } } },
      400,
      /unknown field "spec.services.shipping"/,
    ],
  ];
  test.each(cases)('%s', async (_label, spec, status, message) => {
    const create = kube.request(
      'POST',
      '/apis/gorten.io/v1alpha1/marketplaces?fieldValidation=Strict',
      marketplace(SHARD, name('bad'), spec as never),
    );
    await expect(create).rejects.toMatchObject({ status });
    await expect(create).rejects.toThrow(message);
  });

  test('a name too long for the namespace and database', async () => {
    const create = kube.create(marketplace(SHARD, `a${'b'.repeat(40)}`));
    await expect(create).rejects.toThrow(/at most 40 characters/);
  });

  test('changing the currency', async () => {
    const mp = name('fixed');
    await kube.create(marketplace(SHARD, mp, { currency: 'USD' }));
    const change = kube.mergePatch({ ...MARKETPLACE, name: mp }, { spec: { currency: 'EUR' } });
    await expect(change).rejects.toThrow(/currency is immutable/);
    await deleteMarketplaces(kube, [mp]);
  });
});
