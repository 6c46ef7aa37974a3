// The Helm chart as helm sees it: lint, render, schema, and what the rendered objects
// promise (CRDs equal to crds/, an environment the operator accepts, hardened pods).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tracingSettings } from '@gorten/kit/tracing';
import { loadConfig, readCrds, type KubeObject } from '@gorten/operator';
import {
  CHART_DIR,
  KUBE_VERSION,
  findObject,
  helm,
  operatorPod,
  render,
  resolveEnv,
  template,
} from './helm.js';

const RECOMMENDED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/part-of',
];

const STAND_IN_SECRETS: Record<string, string> = {
  'gorten-mongodb-admin/url': 'mongodb://admin:secret@mongo.example:27017/?authSource=admin',
  'gorten-smtp/url': 'smtp://mail.example:25',
  'gorten-redis-admin/url': 'redis://admin:secret@redis-0.redis.example:6379',
};

/** The operator's environment as the kubelet would build it, with stand-in secrets. */
async function operatorEnv(objects: KubeObject[]): Promise<Record<string, string>> {
  const { container } = operatorPod(objects);
  return resolveEnv(container.env, (name, key) => STAND_IN_SECRETS[`${name}/${key}`] ?? 'admin', {
    name: 'gorten-abc12',
    namespace: 'gorten-system',
  });
}

describe('helm', () => {
  test('lint --strict passes', () => {
    const result = helm(['lint', '--strict', '--kube-version', KUBE_VERSION, CHART_DIR]);
    expect(`${result.stdout}${result.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  test('template renders the operator, its RBAC and the CRDs with the default values', () => {
    const kinds = render()
      .map((o) => o.kind)
      .sort();
    expect(kinds).toEqual([
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'CustomResourceDefinition',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
  });

  test('every object carries the recommended app.kubernetes.io labels', () => {
    const everything = ['serviceMonitor', 'prometheusRule', 'dashboard'].flatMap((value) => [
      '--set',
      `${value}.enabled=true`,
    ]);
    const missing = render({ args: everything }).flatMap((object) =>
      RECOMMENDED_LABELS.filter((label) => !(label in (object.metadata.labels ?? {}))).map(
        (label) => `${object.kind}/${object.metadata.name}: ${label}`,
      ),
    );
    expect(missing).toEqual([]);
  });
});

describe('values.schema.json', () => {
  test('a value of the wrong type is rejected, naming the field', () => {
    const result = template({ args: ['--set', 'replicaCount=two'] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/\/replicaCount'?: got string, want integer/);
  });

  test('a nested value of the wrong type is rejected with its path', () => {
    const result = template({ args: ['--set', 'operator.metricsPort=http'] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('/operator/metricsPort');
  });

  test('a misspelt key is rejected instead of being ignored', () => {
    const result = template({ values: { operator: { loglevel: 'debug' } } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("'loglevel' not allowed");
  });

  test.each([
    [{ sampleRatio: 1.5 }, '/tracing/sampleRatio'],
    [{ otlpEndpoint: 'grpc://collector:4317' }, '/tracing/otlpEndpoint'],
    [{ otlpEndpoint: 'http://user:secret@collector:4318' }, '/tracing/otlpEndpoint'],
  ])('tracing %j is rejected with its path', (tracing, path) => {
    const result = template({ values: { tracing } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(path);
  });

  test.each([
    [
      { redis: { adminUrlSecret: { name: 'Not A Secret', key: 'url' } } },
      '/redis/adminUrlSecret/name',
    ],
    [{ tenants: { redisHost: 'redis://cache:6379' } }, '/tenants/redisHost'],
  ])('Redis %j is rejected with its path', (values, path) => {
    const result = template({ values });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(path);
  });

  test('a log level the operator does not know is rejected', () => {
    const result = template({ values: { operator: { logLevel: 'verbose' } } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('/operator/logLevel');
  });

  test('several replicas without leader election are refused', () => {
    const result = template({ values: { operator: { leaderElection: { enabled: false } } } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('needs operator.leaderElection.enabled');
    expect(
      render({ values: { replicaCount: 1, operator: { leaderElection: { enabled: false } } } })
        .map((o) => o.kind)
        .filter((k) => k === 'Role' || k === 'PodDisruptionBudget'),
    ).toEqual([]);
  });
});

describe('CRDs', () => {
  /** The chart adds its labels and the keep policy; everything else must be crds/ as is. */
  function withoutChartMetadata(crd: KubeObject): KubeObject {
    const { labels: _labels, annotations, ...metadata } = crd.metadata;
    const { 'helm.sh/resource-policy': _keep, ...otherAnnotations } = annotations ?? {};
    return {
      ...crd,
      metadata: Object.keys(otherAnnotations).length
        ? { ...metadata, annotations: otherAnnotations }
        : metadata,
    };
  }

  const sortByName = (crds: KubeObject[]): KubeObject[] =>
    [...crds].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

  test('the rendered CRDs are crds/*.yaml, all of them, unchanged', () => {
    const rendered = render()
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map(withoutChartMetadata);
    const source = readCrds();
    expect(source.length).toBeGreaterThan(0);
    expect(sortByName(rendered)).toEqual(sortByName(source));
  });

  test('are in the packaged chart too: helm package follows the link to crds/', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gorten-package-'));
    try {
      const packaged = helm(['package', CHART_DIR, '--destination', dir]);
      expect(packaged.status).toBe(0);
      const chart = /saved it to: (\S+\.tgz)/.exec(packaged.stdout)?.[1];
      expect(chart).toBeDefined();
      const rendered = render({ chart: chart! })
        .filter((o) => o.kind === 'CustomResourceDefinition')
        .map(withoutChartMetadata);
      expect(sortByName(rendered)).toEqual(sortByName(readCrds()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('are kept on uninstall and labelled as the release', () => {
    for (const crd of render().filter((o) => o.kind === 'CustomResourceDefinition')) {
      expect(crd.metadata.annotations).toMatchObject({ 'helm.sh/resource-policy': 'keep' });
      expect(crd.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
    }
  });

  test('can be left out', () => {
    const kinds = render({ values: { crds: { install: false } } }).map((o) => o.kind);
    expect(kinds).not.toContain('CustomResourceDefinition');
  });
});

describe('ServiceMonitor', () => {
  test('is rendered only when enabled', () => {
    expect(render().some((o) => o.kind === 'ServiceMonitor')).toBe(false);
    const objects = render({
      values: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
    });
    const monitor = findObject(objects, 'ServiceMonitor') as KubeObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    // It must find the metrics Service: same labels, same port name.
    const service = findObject(objects, 'Service') as KubeObject & {
      spec: { ports: { name: string }[] };
    };
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
  });

  test('its labels go on every tenant’s ServiceMonitor too, enabled or not', async () => {
    expect(loadConfig(await operatorEnv(render())).settings.tenantMonitorLabels).toEqual({});
    const labels = { release: 'prometheus', 'example.com/team': 'shop' };
    const config = loadConfig(
      await operatorEnv(render({ values: { serviceMonitor: { labels } } })),
    );
    expect(config.settings.tenantMonitorLabels).toEqual(labels);
  });
});

describe('kong.problemDetailsPlugin', () => {
  test('is off unless set, and reaches the operator as GORTEN_KONG_PROBLEM_DETAILS', async () => {
    expect(loadConfig(await operatorEnv(render())).settings.kongProblemDetails).toBe(false);
    const values = { kong: { problemDetailsPlugin: true } };
    const config = loadConfig(await operatorEnv(render({ values })));
    expect(config.settings.kongProblemDetails).toBe(true);
  });
});

describe('the operator Deployment', () => {
  test('runs 2 replicas with leader election, spread across nodes', async () => {
    const objects = render();
    const deployment = findObject(objects, 'Deployment') as KubeObject & {
      spec: { replicas: number };
    };
    expect(deployment.spec.replicas).toBe(2);
    const config = loadConfig(await operatorEnv(objects));
    expect(config.leaderElection).toEqual({
      enabled: true,
      namespace: 'gorten-system',
      name: 'gorten',
      identity: 'gorten-abc12',
    });
    expect(operatorPod(objects).pod.affinity).toMatchObject({
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [expect.anything()] },
    });
    const role = findObject(objects, 'Role') as KubeObject & {
      rules: { resources: string[]; resourceNames?: string[] }[];
    };
    expect(role.rules.flatMap((r) => r.resourceNames ?? [])).toEqual([config.leaderElection.name]);
  });

  test('gives the operator an environment it accepts, built from the values', async () => {
    const objects = render({
      values: {
        operator: { logLevel: 'debug', metricsPort: 9090, marketplaceSelector: 'tier=gold' },
        tenants: {
          image: { repository: 'registry.example/services', tag: '1.2.3' },
          mongodbHost: 'mongo.data.svc:27017',
          amqpHost: 'rabbit.data.svc:5672',
        },
        rabbitmq: { managementUrl: 'https://rabbit.data.svc:15671' },
      },
    });
    const config = loadConfig(await operatorEnv(objects));
    expect(config).toMatchObject({
      logLevel: 'debug',
      metricsPort: 9090,
      selector: 'tier=gold',
      installCrds: false,
      rabbitmq: { managementUrl: 'https://rabbit.data.svc:15671', user: 'admin' },
      settings: {
        image: { repository: 'registry.example/services', tag: '1.2.3' },
        mongoTenantHost: 'mongo.data.svc:27017',
        amqpTenantHost: 'rabbit.data.svc:5672',
      },
    });
    expect(operatorPod(objects).container.ports).toEqual([
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ]);
  });

  test('no tenant cache by default; a Redis admin Secret turns it on, with the tenants’ Redis host', async () => {
    const off = loadConfig(await operatorEnv(render()));
    expect(off.redisAdmin).toBeUndefined();
    expect(off.settings.redisTenantHost).toBeUndefined();
    const objects = render({
      values: {
        redis: { adminUrlSecret: { name: 'gorten-redis-admin', key: 'url' } },
        tenants: { redisHost: 'cache.data.svc:6379' },
      },
    });
    const on = loadConfig(await operatorEnv(objects));
    expect(on.redisAdmin).toEqual({ url: 'redis://admin:secret@redis-0.redis.example:6379' });
    expect(on.settings.redisTenantHost).toBe('cache.data.svc:6379');
    const { container } = operatorPod(objects);
    expect(container.env.find((e) => e.name === 'GORTEN_REDIS_ADMIN_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: 'gorten-redis-admin', key: 'url' },
    });
  });

  test('traces nothing by default: no OTEL_* for the operator, none for its tenants', async () => {
    const env = await operatorEnv(render());
    expect(Object.keys(env).filter((name) => /OTEL|TRAC/.test(name))).toEqual([]);
    expect(tracingSettings('gorten-operator', env)).toMatchObject({ enabled: false });
    expect(loadConfig(env).settings.tenantTracing).toBeUndefined();
  });

  test('tracing values point the operator and, through it, every tenant at the collector', async () => {
    const otlpEndpoint = 'http://otel-collector.observability.svc:4318';
    const env = await operatorEnv(
      render({ values: { tracing: { otlpEndpoint, sampleRatio: 0.1 } } }),
    );
    expect(env).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      GORTEN_TENANT_OTLP_ENDPOINT: otlpEndpoint,
      GORTEN_TENANT_TRACE_SAMPLE_RATIO: '0.1',
    });
    expect(tracingSettings('gorten-operator', env)).toMatchObject({
      enabled: true,
      url: `${otlpEndpoint}/v1/traces`,
      sampler: { name: 'parentbased_traceidratio', ratio: 0.1 },
    });
    expect(loadConfig(env).settings.tenantTracing).toEqual({ otlpEndpoint, sampleRatio: 0.1 });
    // The default ratio records every new trace.
    const all = await operatorEnv(render({ values: { tracing: { otlpEndpoint } } }));
    expect(loadConfig(all).settings.tenantTracing?.sampleRatio).toBe(1);
    expect(all.OTEL_TRACES_SAMPLER_ARG).toBe('1');
  });

  test('tells the operator which ClusterRole to bind to itself in tenant namespaces', async () => {
    const config = loadConfig(await operatorEnv(render()));
    expect(config.settings.tenantAccess).toEqual({
      clusterRole: 'gorten-tenant',
      serviceAccount: { namespace: 'gorten-system', name: 'gorten' },
    });
  });

  test('images default to the chart appVersion', async () => {
    const objects = render();
    const { container } = operatorPod(objects);
    expect(container.image).toBe('ghcr.io/gorten/operator:0.1.0');
    expect(loadConfig(await operatorEnv(objects)).settings.image).toEqual({
      repository: 'ghcr.io/gorten/services',
      tag: '0.1.0',
    });
  });

  test('takes credentials from existing Secrets, never from values', () => {
    const { container } = operatorPod(render());
    const fromSecrets = container.env.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name);
    expect(fromSecrets.sort()).toEqual([
      'GORTEN_MONGO_ADMIN_URL',
      'GORTEN_RABBITMQ_ADMIN_PASSWORD',
      'GORTEN_RABBITMQ_ADMIN_USER',
      'GORTEN_SMTP_URL',
    ]);
  });

  test('probes the operator health endpoints on its metrics port', () => {
    const { container } = operatorPod(render());
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
  });

  test('runs non-root on a read-only filesystem without capabilities', () => {
    const { pod, container } = operatorPod(render());
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });
});

describe('RBAC', () => {
  interface Rule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames?: string[];
  }

  function rules(kind: 'ClusterRole' | 'Role', name?: string): Rule[] {
    return (findObject(render(), kind, name) as KubeObject & { rules: Rule[] }).rules;
  }

  /** What the operator may write cluster-wide without reaching tenants' data: its own resources. */
  const OWN_OR_CLUSTER_SCOPED = new Set([
    'marketplaces',
    'marketplaces/status',
    'marketplaces/finalizers',
    'companies',
    'companies/status',
    'companies/finalizers',
    'namespaces',
    'clusterroles',
  ]);

  const allRules = (): Rule[] => [
    ...rules('ClusterRole', 'gorten'),
    ...rules('ClusterRole', 'gorten-tenant'),
    ...rules('Role'),
  ];

  test('has no wildcards and no escalating verbs but bind on the tenant role', () => {
    for (const rule of allRules()) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs])
        expect(field).not.toContain('*');
      for (const verb of ['escalate', 'impersonate']) expect(rule.verbs).not.toContain(verb);
      if (rule.verbs.includes('bind')) expect(rule.resourceNames).toEqual(['gorten-tenant']);
    }
  });

  test('grants nothing on CRDs, Pods, or RBAC beyond making its own RoleBindings', () => {
    const granted = allRules().flatMap((r) => r.resources);
    for (const resource of [
      'customresourcedefinitions',
      'clusterrolebindings',
      'roles',
      'pods',
      'nodes',
    ]) {
      expect(granted).not.toContain(resource);
    }
    const rbac = allRules().filter((r) => r.apiGroups.includes('rbac.authorization.k8s.io'));
    expect(rbac.map((r) => `${r.resources.join()} ${r.verbs.join()}`).sort()).toEqual([
      'clusterroles bind',
      'rolebindings create',
      'rolebindings get',
    ]);
  });

  test('grants nothing on Secrets, and no namespaced writes, cluster-wide', () => {
    const clusterWide = rules('ClusterRole', 'gorten');
    expect(clusterWide.flatMap((r) => r.resources)).not.toContain('secrets');
    // A cluster-wide write to Deployments or ConfigMaps would reach every namespace too.
    const namespacedWrites = clusterWide.filter(
      (r) =>
        r.resources.some((res) => !OWN_OR_CLUSTER_SCOPED.has(res)) &&
        r.verbs.some((v) => ['create', 'update', 'patch', 'delete'].includes(v)),
    );
    expect(namespacedWrites.map((r) => r.resources)).toEqual([['events'], ['rolebindings']]);
    // Namespaces: made and read back, listed and watched (the informer), never changed.
    expect(
      clusterWide
        .filter((r) => r.resources.includes('namespaces'))
        .flatMap((r) => r.verbs)
        .sort(),
    ).toEqual(['create', 'get', 'list', 'watch']);
  });

  test('on tenant ServiceMonitors: list and apply, nothing more; nothing on PodMonitors', () => {
    const monitoring = rules('ClusterRole', 'gorten-tenant').filter((r) =>
      r.apiGroups.includes('monitoring.coreos.com'),
    );
    expect(monitoring).toEqual([
      {
        apiGroups: ['monitoring.coreos.com'],
        resources: ['servicemonitors'],
        verbs: ['list', 'create', 'patch'],
      },
    ]);
    const clusterWide = rules('ClusterRole', 'gorten');
    expect(clusterWide.flatMap((r) => r.apiGroups)).not.toContain('monitoring.coreos.com');
  });

  test('tenant rights come from one ClusterRole the operator may bind, and only that one', () => {
    const tenant = rules('ClusterRole', 'gorten-tenant');
    expect(tenant.find((r) => r.resources.includes('secrets'))?.verbs).toEqual(
      expect.arrayContaining(['get', 'list', 'create', 'patch', 'delete']),
    );
    const bind = rules('ClusterRole', 'gorten').filter((r) => r.verbs.includes('bind'));
    expect(bind).toEqual([
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['clusterroles'],
        resourceNames: ['gorten-tenant'],
        verbs: ['bind'],
      },
    ]);
    // Nothing binds it but the operator, in the namespaces it makes.
    const bindings = render().filter(
      (o) =>
        (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') &&
        (o as KubeObject & { roleRef: { name: string } }).roleRef.name === 'gorten-tenant',
    );
    expect(bindings).toEqual([]);
  });

  test('an admission policy keeps the operator’s RoleBindings to tenant namespaces', () => {
    const objects = render();
    const policy = findObject(objects, 'ValidatingAdmissionPolicy') as KubeObject & {
      spec: {
        failurePolicy: string;
        matchConditions: { expression: string }[];
        validations: { expression: string }[];
      };
    };
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConditions[0]?.expression).toContain(
      'system:serviceaccount:gorten-system:gorten',
    );
    expect(policy.spec.validations.map((v) => v.expression).join(' ')).toContain('"mp-"');
    const binding = findObject(objects, 'ValidatingAdmissionPolicyBinding') as KubeObject & {
      spec: { policyName: string; validationActions: string[] };
    };
    expect(binding.spec).toMatchObject({
      policyName: policy.metadata.name,
      validationActions: ['Deny'],
    });
  });

  test('keeps Leases to the release namespace', () => {
    const clusterWide = rules('ClusterRole').flatMap((r) => r.resources);
    expect(clusterWide).not.toContain('leases');
    expect(rules('Role').every((r) => r.resources.every((res) => res === 'leases'))).toBe(true);
  });
});
