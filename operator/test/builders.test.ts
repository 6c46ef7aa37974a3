// The Marketplace builders are pure: CR in, manifests out.
import { deadLetterQueueOf, RETRY_QUEUE_TTL_MS, retryQueueOf } from '@gorten/kit/tenant-contract';
import { tracingSettings } from '@gorten/kit/tracing';
import { SERVICE_NAMES, type Marketplace } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import {
  buildAdminSecret,
  buildBrokerSecret,
  buildDatabaseSecret,
  buildIdempotencySecret,
  buildSmtpSecret,
  idempotencyKeyOf,
  passwordOf,
} from '../src/marketplace/credentials.js';
import {
  buildNamespacePlane,
  buildTenantRoleBinding,
  namespaceClaim,
} from '../src/marketplace/namespace.js';
import { tenantNames } from '../src/marketplace/names.js';
import { parseTopology, tenantTopology } from '../src/marketplace/topology.js';
import {
  buildConfigMap,
  buildDeployment,
  buildService,
  buildWorkloadsPlane,
  configDigest,
  desiredReplicas,
  rolloutLag,
  stillRunning,
  tracingConfig,
} from '../src/marketplace/workloads.js';
import {
  buildGatewayPlane,
  checkPluginReferences,
  hostHolder,
  KNOWN_KONG_PLUGINS,
  ROUTES,
} from '../src/marketplace/gateway.js';
import { buildServiceMonitor } from '../src/marketplace/monitoring.js';
import { DEFAULT_SETTINGS, type OperatorSettings } from '../src/settings.js';

const mp: Marketplace = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Marketplace',
  metadata: { name: 'acme', uid: 'uid-1', generation: 2 },
  spec: { displayName: 'ACME', host: 'acme.shop.example.com' },
};

const decode = (secret: KubeObject, key: string): string =>
  Buffer.from((secret.data as Record<string, string>)[key] ?? '', 'base64').toString();

test('every child is labelled and owned by the Marketplace, in its namespace', () => {
  const objects = buildNamespacePlane(mp, DEFAULT_SETTINGS);
  expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
    'Namespace/mp-acme',
    'ResourceQuota/tenant-quota',
    'LimitRange/tenant-defaults',
    'NetworkPolicy/tenant-ingress',
  ]);
  for (const o of objects) {
    expect(o.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'gorten-operator',
      'gorten.io/marketplace': 'acme',
    });
    expect(o.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'gorten.io/v1alpha1',
        kind: 'Marketplace',
        name: 'acme',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('mp-acme');
  }
});

test('a namespace is the tenant’s only with its label or an ownerReference to its uid', () => {
  const namespace = (metadata: Partial<KubeObject['metadata']>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'mp-acme', ...metadata },
  });
  const owner = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace', name: 'acme' };
  expect(namespaceClaim(mp, undefined)).toBe('absent');
  expect(namespaceClaim(mp, namespace({}))).toBe('foreign');
  expect(namespaceClaim(mp, namespace({ labels: { 'gorten.io/marketplace': 'acme' } }))).toBe(
    'ours',
  );
  expect(namespaceClaim(mp, namespace({ labels: { 'gorten.io/marketplace': 'other' } }))).toBe(
    'foreign',
  );
  expect(namespaceClaim(mp, namespace({ ownerReferences: [{ ...owner, uid: 'uid-1' }] }))).toBe(
    'ours',
  );
  // A Marketplace of the same name deleted earlier is another owner.
  expect(namespaceClaim(mp, namespace({ ownerReferences: [{ ...owner, uid: 'uid-0' }] }))).toBe(
    'foreign',
  );
});

test('the operator’s RoleBinding gives its own ServiceAccount the tenant role in the tenant namespace', () => {
  const binding = buildTenantRoleBinding(mp, {
    clusterRole: 'gorten-tenant',
    serviceAccount: { namespace: 'gorten-system', name: 'gorten' },
  });
  expect(binding).toMatchObject({
    kind: 'RoleBinding',
    metadata: { name: 'gorten-operator', namespace: 'mp-acme' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gorten-tenant' },
    subjects: [{ kind: 'ServiceAccount', namespace: 'gorten-system', name: 'gorten' }],
  });
  expect(binding.metadata.ownerReferences?.[0]?.uid).toBe('uid-1');
});

test('the NetworkPolicy denies all ingress but the gateway, monitoring and the tenant itself', () => {
  const policy = buildNamespacePlane(mp, DEFAULT_SETTINGS).find((o) => o.kind === 'NetworkPolicy');
  expect(policy?.spec).toEqual({
    podSelector: {},
    policyTypes: ['Ingress'],
    ingress: [
      {
        from: [
          { namespaceSelector: { matchLabels: { 'gorten.io/role': 'gateway' } } },
          { namespaceSelector: { matchLabels: { 'gorten.io/role': 'monitoring' } } },
          { podSelector: {} },
        ],
      },
    ],
  });
});

test('the NetworkPolicy restricts no egress: the services reach the trace collector (and their servers)', () => {
  // Ingress only: were Egress ever added, the collector, MongoDB, RabbitMQ and the mail
  // relay would each need a rule, or tracing would fail silently (spans dropped).
  const policy = buildNamespacePlane(mp, DEFAULT_SETTINGS).find((o) => o.kind === 'NetworkPolicy');
  const spec = policy?.spec as { policyTypes: string[]; egress?: unknown };
  expect(spec.policyTypes).not.toContain('Egress');
  expect(spec.egress).toBeUndefined();
});

test('credential Secrets carry a URI with the escaped password and round-trip it', () => {
  const settings = { ...DEFAULT_SETTINGS, mongoTenantHost: 'db:27017', amqpTenantHost: 'mq:5672' };
  const db = buildDatabaseSecret(mp, settings, 'p@ss/word');
  expect(decode(db, 'uri')).toBe(
    'mongodb://mp-acme-app:p%40ss%2Fword@db:27017/mp-acme?authSource=mp-acme',
  );
  expect(passwordOf(db)).toBe('p@ss/word');
  const mq = buildBrokerSecret(mp, settings, 'secret');
  expect(decode(mq, 'uri')).toBe('amqp://mp-acme-app:secret@mq:5672/mp-acme');
  expect(decode(mq, 'vhost')).toBe('mp-acme');
  expect(passwordOf(undefined)).toBeUndefined();
});

test('names derive from the Marketplace name alone', () => {
  expect(tenantNames('acme')).toMatchObject({
    namespace: 'mp-acme',
    database: 'mp-acme',
    vhost: 'mp-acme',
    databaseUser: 'mp-acme-app',
  });
});

test('the topology file holds the brief’s exchanges; every work queue dead-letters and has a retry queue', () => {
  const topology = tenantTopology();
  expect(topology.exchanges.map((e) => `${e.name}:${e.type}`)).toEqual(
    expect.arrayContaining([
      'order_exchange:topic',
      'product_exchange:topic',
      'notification_exchange:fanout',
    ]),
  );
  const work = topology.queues.filter((q) => 'x-delivery-limit' in q.arguments);
  expect(work.map((q) => q.name).sort()).toEqual([
    'email_notifications',
    'inventory_update',
    'order_created',
    'order_paid',
  ]);
  const others = work.flatMap((q) => [deadLetterQueueOf(q.name), retryQueueOf(q.name)]);
  expect(topology.queues.map((q) => q.name).sort()).toEqual(
    [...work.map((q) => q.name), ...others].sort(),
  );
  for (const q of work) {
    expect(q.arguments).toMatchObject({
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': 'dead_letter_exchange',
      'x-delivery-limit': 5,
    });
    expect(topology.bindings).toContainEqual(
      expect.objectContaining({
        source: 'dead_letter_exchange',
        destination: deadLetterQueueOf(q.name),
        routing_key: q.name,
      }),
    );
    // Nothing consumes it: its TTL (the consumer's longest wait) sends a message back to
    // the work queue through the default exchange, replicated and confirmed.
    const retry = topology.queues.find((r) => r.name === retryQueueOf(q.name));
    expect(retry?.arguments).toEqual({
      'x-queue-type': 'quorum',
      'x-message-ttl': RETRY_QUEUE_TTL_MS,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': q.name,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  }
});

test('a malformed topology is refused with the file name and the problem', () => {
  expect(() =>
    parseTopology(
      {
        exchanges: [],
        queues: [],
        bindings: [
          {
            source: 'x',
            destination: 'y',
            destination_type: 'queue',
            routing_key: '',
            arguments: {},
          },
        ],
      },
      'topology.json',
    ),
  ).toThrow(/topology.json: bindings name undeclared exchanges or queues: x->y/);
  expect(() =>
    parseTopology(
      { exchanges: [{ name: 'e', type: 'fan' }], queues: [], bindings: [] },
      'topology.json',
    ),
  ).toThrow(/not a valid topology/);
});

test('the request fingerprint key: kept in idempotency-key, read back, mounted in checkout and orders only', () => {
  const secret = buildIdempotencySecret(mp, 'k'.repeat(43));
  expect(secret.metadata).toMatchObject({ name: 'idempotency-key', namespace: 'mp-acme' });
  expect(decode(secret, 'hmac-key')).toBe('k'.repeat(43));
  expect(idempotencyKeyOf(secret)).toBe('k'.repeat(43));
  expect(idempotencyKeyOf(undefined)).toBeUndefined();
  for (const service of SERVICE_NAMES) {
    const container = (
      buildDeployment(mp, service, DEFAULT_SETTINGS, 'd').spec as {
        template: { spec: { containers: { env: { name: string; valueFrom?: unknown }[] }[] } };
      }
    ).template.spec.containers[0]!;
    const variable = container.env.find((e) => e.name === 'IDEMPOTENCY_HMAC_KEY');
    expect({ service, mounted: variable?.valueFrom }).toEqual({
      service,
      mounted: ['checkout', 'orders'].includes(service)
        ? { secretKeyRef: { name: 'idempotency-key', key: 'hmac-key' } }
        : undefined,
    });
  }
});

describe('the first admin and email', () => {
  test('admin@<host> and no-reply@<host> unless the spec names others; the relay from the settings', () => {
    expect(decode(buildAdminSecret(mp, 'pw-123'), 'email')).toBe('admin@acme.shop.example.com');
    expect(decode(buildAdminSecret(mp, 'pw-123'), 'password')).toBe('pw-123');
    const named = {
      ...mp,
      spec: { ...mp.spec, adminEmail: 'ops@acme.example', email: { from: 'shop@acme.example' } },
    };
    expect(decode(buildAdminSecret(named, 'pw'), 'email')).toBe('ops@acme.example');
    expect(buildConfigMap(mp, DEFAULT_SETTINGS).data).toMatchObject({
      MAIL_FROM: 'no-reply@acme.shop.example.com',
    });
    expect(buildConfigMap(named, DEFAULT_SETTINGS).data).toMatchObject({
      MAIL_FROM: 'shop@acme.example',
    });
    const relay = { ...DEFAULT_SETTINGS, smtpUrl: 'smtps://user:secret@mail.example:465' };
    expect(decode(buildSmtpSecret(mp, relay), 'uri')).toBe(relay.smtpUrl);
  });
});

describe('workloads', () => {
  const withServices = (
    services: Marketplace['spec']['services'],
    suspended = false,
  ): Marketplace => ({
    ...mp,
    spec: { ...mp.spec, services, suspended },
  });

  test('a Deployment per service; replicas from the spec, omitted under an HPA, zero when suspended', () => {
    const plane = buildWorkloadsPlane(
      withServices({ checkout: { replicas: 3 }, catalog: { autoscaling: { maxReplicas: 5 } } }),
      DEFAULT_SETTINGS,
      'd1',
    );
    const deployments = plane.filter((o) => o.kind === 'Deployment');
    expect(deployments).toHaveLength(SERVICE_NAMES.length);
    const replicas = (name: string) =>
      (deployments.find((d) => d.metadata.name === name)?.spec as { replicas?: number }).replicas;
    expect(replicas('checkout')).toBe(3);
    expect(replicas('orders')).toBe(1);
    expect(replicas('catalog')).toBeUndefined();
    expect(
      plane.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.metadata.name),
    ).toEqual(['catalog']);

    const suspended = buildWorkloadsPlane(
      withServices({ catalog: { autoscaling: { maxReplicas: 5 } } }, true),
      DEFAULT_SETTINGS,
      'd1',
    );
    expect(suspended.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(desiredReplicas(withServices({ checkout: { replicas: 3 } }, true), 'checkout')).toBe(0);
  });

  test('only the users service gets the private signing key; resources merge defaults and overrides as strings', () => {
    const users = buildDeployment(
      withServices({ users: { resources: { limits: { memory: '1Gi', cpu: 2 } } } }),
      'users',
      DEFAULT_SETTINGS,
      'd',
    );
    const orders = buildDeployment(mp, 'orders', DEFAULT_SETTINGS, 'd');
    const container = (d: KubeObject) =>
      (
        d.spec as {
          template: { spec: { containers: { env: { name: string }[]; resources: unknown }[] } };
        }
      ).template.spec.containers[0]!;
    expect(container(users).env.map((e) => e.name)).toContain('JWT_PRIVATE_KEY');
    expect(container(orders).env.map((e) => e.name)).not.toContain('JWT_PRIVATE_KEY');
    // The first admin reaches users only; the mail relay reaches the email worker only.
    const envOf = (d: KubeObject) => container(d).env as { name: string; valueFrom?: unknown }[];
    const notifications = buildDeployment(mp, 'notifications', DEFAULT_SETTINGS, 'd');
    expect(envOf(users).find((e) => e.name === 'BOOTSTRAP_ADMIN_PASSWORD')?.valueFrom).toEqual({
      secretKeyRef: { name: 'admin-credentials', key: 'password' },
    });
    expect(envOf(notifications).find((e) => e.name === 'SMTP_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: 'smtp-relay', key: 'uri' },
    });
    for (const name of ['BOOTSTRAP_ADMIN_PASSWORD', 'SMTP_URL'])
      expect(envOf(orders).map((e) => e.name)).not.toContain(name);
    expect(container(users).resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
  });

  describe('tracing', () => {
    const collector = 'http://otel-collector.observability.svc:4318';
    const tracing = {
      ...DEFAULT_SETTINGS,
      tenantTracing: { otlpEndpoint: collector, sampleRatio: 0.2 },
    };
    const withRatio = (sampleRatio: number): Marketplace => ({
      ...mp,
      spec: { ...mp.spec, tracing: { sampleRatio } },
    });
    const otelKeys = (data: unknown) =>
      Object.keys(data as Record<string, string>).filter((k) => k.startsWith('OTEL_'));

    test('without a collector the ConfigMap sets no OTEL_* at all, a spec ratio or not: the services trace nothing', () => {
      expect(otelKeys(buildConfigMap(mp, DEFAULT_SETTINGS).data)).toEqual([]);
      expect(otelKeys(buildConfigMap(withRatio(0.5), DEFAULT_SETTINGS).data)).toEqual([]);
      expect(
        tracingSettings('checkout', buildConfigMap(mp, DEFAULT_SETTINGS).data as never),
      ).toMatchObject({
        enabled: false,
      });
    });

    test('with one: the endpoint and a parent-based ratio sampler, which the kit reads as meant', () => {
      const data = buildConfigMap(mp, tracing).data as Record<string, string>;
      expect(data).toMatchObject({
        MARKETPLACE: 'acme',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.2',
      });
      expect(tracingSettings('checkout', data)).toMatchObject({
        enabled: true,
        url: `${collector}/v1/traces`,
        sampler: { name: 'parentbased_traceidratio', ratio: 0.2 },
        serviceName: 'checkout',
      });
    });

    test('the spec’s ratio wins over the operator’s, 0 included', () => {
      expect(tracingConfig(withRatio(0.05), tracing).OTEL_TRACES_SAMPLER_ARG).toBe('0.05');
      expect(tracingConfig(withRatio(0), tracing).OTEL_TRACES_SAMPLER_ARG).toBe('0');
      expect(tracingConfig(withRatio(1), tracing).OTEL_TRACES_SAMPLER_ARG).toBe('1');
    });

    test('every Deployment reads the ConfigMap, so a changed setting rolls the pods through the digest', () => {
      for (const deployment of buildWorkloadsPlane(mp, tracing, 'd').filter(
        (o) => o.kind === 'Deployment',
      )) {
        const container = (
          deployment.spec as { template: { spec: { containers: { envFrom: unknown }[] } } }
        ).template.spec.containers[0];
        expect(container?.envFrom).toEqual([{ configMapRef: { name: 'tenant-config' } }]);
      }
      const digestOf = (m: Marketplace, settings: OperatorSettings) =>
        configDigest([buildConfigMap(m, settings).data]);
      expect(digestOf(mp, tracing)).not.toBe(digestOf(mp, DEFAULT_SETTINGS));
      expect(digestOf(mp, tracing)).not.toBe(digestOf(withRatio(0.5), tracing));
    });
  });

  test('the config digest changes when a credential changes', () => {
    expect(configDigest([{ a: 'x' }])).toBe(configDigest([{ a: 'x' }]));
    expect(configDigest([{ a: 'x' }])).not.toBe(configDigest([{ a: 'y' }]));
  });

  test('rollout lag names services whose Deployment is not yet available', () => {
    expect(
      rolloutLag([
        {
          metadata: { name: 'a', generation: 2 },
          spec: { replicas: 2 },
          status: { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 },
        },
        {
          metadata: { name: 'b', generation: 3 },
          spec: { replicas: 1 },
          status: { observedGeneration: 2, updatedReplicas: 1, availableReplicas: 1 },
        },
        {
          metadata: { name: 'c', generation: 1 },
          spec: { replicas: 2 },
          status: { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 1 },
        },
      ]),
    ).toEqual(['b 1/1 available', 'c 1/2 available']);
  });

  test('a service is stopped once asked for 0, seen by its controller, with no pods left', () => {
    const stopped = { observedGeneration: 4, replicas: 0, terminatingReplicas: 0 };
    expect(
      stillRunning([
        { metadata: { name: 'done', generation: 4 }, spec: { replicas: 0 }, status: stopped },
        { metadata: { name: 'asked', generation: 3 }, spec: { replicas: 2 }, status: stopped },
        { metadata: { name: 'unseen', generation: 5 }, spec: { replicas: 0 }, status: stopped },
        {
          metadata: { name: 'draining', generation: 4 },
          spec: { replicas: 0 },
          status: { ...stopped, replicas: 1 },
        },
        {
          metadata: { name: 'terminating', generation: 4 },
          spec: { replicas: 0 },
          status: { ...stopped, terminatingReplicas: 2 },
        },
        // An apiserver that does not count terminating pods: replicas alone decide.
        {
          metadata: { name: 'older', generation: 4 },
          spec: { replicas: 0 },
          status: { observedGeneration: 4 },
        },
      ]),
    ).toEqual(['asked (0 pods)', 'unseen (0 pods)', 'draining (1 pods)', 'terminating (0 pods)']);
  });
});

describe('gateway', () => {
  test('a host is held by the oldest Marketplace naming it, then the first by name', () => {
    const at = (name: string, created: string, host = 'shop.example.com'): Marketplace => ({
      ...mp,
      metadata: { name, creationTimestamp: created as unknown as Date },
      spec: { ...mp.spec, host },
    });
    const old = at('zeta', '2026-01-01T00:00:00Z');
    const twin = at('alpha', '2026-01-01T00:00:00Z');
    const young = at('beta', '2026-02-01T00:00:00Z');
    const elsewhere = at('gamma', '2025-01-01T00:00:00Z', 'other.example.com');
    const all = [old, twin, young, elsewhere];
    expect(hostHolder(young, all)?.metadata.name).toBe('alpha');
    expect(hostHolder(old, all)?.metadata.name).toBe('alpha');
    expect(hostHolder(twin, all)).toBeUndefined();
    expect(hostHolder(elsewhere, all)).toBeUndefined();
  });

  const keys = 'PUBLIC KEY';

  test('protected routes carry jwt and acl; public ones only read; every route ends in the catch-all', () => {
    const objects = buildGatewayPlane(mp, DEFAULT_SETTINGS, keys);
    const ingresses = objects.filter((o) => o.kind === 'Ingress');
    const plugins = (name: string) =>
      ingresses
        .find((i) => i.metadata.name === name)
        ?.metadata.annotations?.['konghq.com/plugins']?.split(',');
    expect(plugins('route-orders')).toEqual([
      'tenant-jwt',
      'tenant-acl',
      'tenant-rate-limit',
      'tenant-security-headers',
      'tenant-cors',
      'tenant-size-limit',
    ]);
    expect(plugins('route-catalog-public')).not.toContain('tenant-jwt');
    expect(
      ingresses.find((i) => i.metadata.name === 'route-catalog-public')?.metadata.annotations?.[
        'konghq.com/methods'
      ],
    ).toBe('GET,HEAD');
    expect(plugins('fallback')).toEqual(['tenant-not-found', 'tenant-security-headers']);
    const acl = objects.find((o) => o.metadata.name === 'tenant-acl');
    expect(acl?.config).toEqual({ allow: ['mp-acme'], hide_groups_header: true });
  });

  test("with kongProblemDetails, Kong's own rejections on every route become problem documents (jwt's 401 included)", () => {
    const objects = buildGatewayPlane(mp, { ...DEFAULT_SETTINGS, kongProblemDetails: true }, keys);
    const routes = objects.filter((o) => o.kind === 'Ingress' && o.metadata.name !== 'fallback');
    expect(routes).toHaveLength(ROUTES.length);
    for (const route of routes) {
      expect(route.metadata.annotations?.['konghq.com/plugins']?.split(',')).toContain(
        'tenant-problem-details',
      );
    }
    const plugin = objects.find((o) => o.metadata.name === 'tenant-problem-details');
    expect(plugin).toMatchObject({ plugin: 'gorten-problem-details', config: {} });
    expect(KNOWN_KONG_PLUGINS).toContain('gorten-problem-details');
  });

  test('without kongProblemDetails (the default), nothing names a plugin a stock Kong lacks', () => {
    const objects = buildGatewayPlane(mp, DEFAULT_SETTINGS, keys);
    expect(DEFAULT_SETTINGS.kongProblemDetails).toBe(false);
    expect(objects.filter((o) => o.kind === 'KongPlugin').map((o) => o.plugin)).not.toContain(
      'gorten-problem-details',
    );
    const named = objects.flatMap(
      (o) => o.metadata.annotations?.['konghq.com/plugins']?.split(',') ?? [],
    );
    expect(named).not.toContain('tenant-problem-details');
  });

  test('CORS names explicit origins and never a wildcard', () => {
    const cors = (spec: Marketplace['spec']['gateway']) =>
      buildGatewayPlane(
        { ...mp, spec: { ...mp.spec, gateway: spec } },
        DEFAULT_SETTINGS,
        keys,
      ).find((o) => o.metadata.name === 'tenant-cors')?.config as {
        origins: string[];
        credentials: boolean;
      };
    expect(cors({ corsOrigins: ['https://shop.example.com'] })).toMatchObject({
      origins: ['https://shop.example.com'],
      credentials: true,
    });
    expect(cors(undefined).origins).toEqual([]);
  });

  test('suspended: only the catch-all, answering 503', () => {
    const objects = buildGatewayPlane(
      { ...mp, spec: { ...mp.spec, suspended: true } },
      DEFAULT_SETTINGS,
      keys,
    );
    const ingresses = objects.filter((o) => o.kind === 'Ingress');
    expect(ingresses.map((i) => i.metadata.name)).toEqual(['fallback']);
    expect(ingresses[0]?.metadata.annotations?.['konghq.com/plugins']).toBe(
      'tenant-suspended,tenant-security-headers',
    );
  });

  test('a route naming a missing KongPlugin, or a KongPlugin with an unknown plugin, is refused', () => {
    const objects = buildGatewayPlane(mp, DEFAULT_SETTINGS, keys);
    const withoutAcl = objects.filter((o) => o.metadata.name !== 'tenant-acl');
    expect(() => checkPluginReferences(withoutAcl)).toThrow(
      /Ingress route-users names undefined KongPlugin tenant-acl/,
    );
    const misspelled = objects.map((o) =>
      o.metadata.name === 'tenant-cors' ? { ...o, plugin: 'corss' } : o,
    );
    expect(() => checkPluginReferences(misspelled)).toThrow(
      /KongPlugin tenant-cors uses unknown plugin corss/,
    );
  });
});

describe('the ServiceMonitor', () => {
  const settings = { ...DEFAULT_SETTINGS, tenantMonitorLabels: { release: 'prometheus' } };
  const monitor = buildServiceMonitor(mp, settings) as KubeObject & {
    spec: {
      selector: { matchLabels: Record<string, string> };
      endpoints: {
        port: string;
        path: string;
        relabelings: Record<string, string>[];
        metricRelabelings: Record<string, string>[];
      }[];
    };
  };

  test('lives in the tenant namespace, owned by the Marketplace, with the labels a Prometheus selects by', () => {
    expect(monitor.metadata).toMatchObject({
      name: 'gorten-services',
      namespace: 'mp-acme',
      labels: { release: 'prometheus', 'gorten.io/marketplace': 'acme' },
      ownerReferences: [expect.objectContaining({ kind: 'Marketplace', uid: 'uid-1' })],
    });
  });

  test('the tenant’s own labels win over configured ones', () => {
    const clash = {
      ...DEFAULT_SETTINGS,
      tenantMonitorLabels: { 'gorten.io/marketplace': 'other' },
    };
    expect(buildServiceMonitor(mp, clash).metadata.labels?.['gorten.io/marketplace']).toBe('acme');
  });

  test('selects every service’s Service, on the port each one names, and only this tenant’s', () => {
    for (const service of SERVICE_NAMES) {
      const svc = buildService(mp, service) as KubeObject & { spec: { ports: { name: string }[] } };
      expect(svc.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
      expect(svc.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
    }
    expect(monitor.spec.selector.matchLabels['gorten.io/marketplace']).toBe('acme');
    expect(monitor.spec).not.toHaveProperty('namespaceSelector');
  });

  test('labels the series with the tenant itself and drops what the pods say of it', () => {
    const [endpoint] = monitor.spec.endpoints;
    expect(endpoint?.path).toBe('/metrics');
    expect(endpoint?.relabelings).toEqual([
      { action: 'replace', targetLabel: 'marketplace', replacement: 'acme' },
    ]);
    expect(endpoint?.metricRelabelings).toEqual([
      { action: 'labeldrop', regex: 'exported_(marketplace|service)' },
    ]);
  });
});
