// The chart against the real test apiserver: its objects are applied as rendered, the
// operator runs as a child process with the chart's ServiceAccount token (not admin)
// and the environment its Deployment would give it, and reconciles a Marketplace to
// Ready. That proves the RBAC sufficient; access reviews and a clean log prove the rest.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { eventually, freePort, spawnTracked } from '@gorten/testenv';
import { findCondition, Kube, tenantNames, type Company, type KubeObject } from '@gorten/operator';
import {
  deleteMarketplaces,
  env,
  marketplace,
  secretValue,
  SHARD_LABEL,
  testKube,
  waitForCondition,
} from '../../operator/test/support.js';
import { operatorPod, render, resolveEnv } from './helm.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const FIELD_MANAGER = 'gorten-chart-test';
const run = randomBytes(3).toString('hex');
const namespace = `gorten-chart-${run}`;
const release = `chart-${run}`;
const shard = `chart-${run}`;
const marketplaceName = `chart-${run}`;
const tenantNamespace = tenantNames(marketplaceName).namespace;
const companyRef = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Company',
  namespace: tenantNamespace,
  name: `seller-${run}`,
} as const;

/** REST paths of the kinds the chart renders; a kind missing here fails the test loudly. */
const CHART_KINDS: Record<string, { plural: string; namespaced: boolean }> = {
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': {
    plural: 'validatingadmissionpolicies',
    namespaced: false,
  },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': {
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': {
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
};

function pathOf(object: KubeObject): string {
  const info = CHART_KINDS[`${object.apiVersion}/${object.kind}`];
  if (!info) throw new Error(`the test does not know how to apply ${object.kind}`);
  const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : '/api/v1';
  const ns = info.namespaced ? `/namespaces/${object.metadata.namespace ?? namespace}` : '';
  return `${base}${ns}/${info.plural}/${object.metadata.name}`;
}

const admin = testKube();
const objects = render({
  release,
  namespace,
  values: {
    // info, not less: refused requests are logged as warnings, which the test looks for.
    operator: { marketplaceSelector: `${SHARD_LABEL}=${shard}`, logLevel: 'info' },
    tenants: {
      mongodbHost: new URL(env.mongo.url).host,
      amqpHost: new URL(env.rabbitmq.amqpUrl).host,
      redisHost: env.redis.address,
    },
    rabbitmq: { managementUrl: env.rabbitmq.managementUrl },
    redis: { adminUrlSecret: { name: 'gorten-redis-admin', key: 'url' } },
  },
});
const { pod, container } = operatorPod(objects);
const leaseName = (() => {
  const lease = container.env.find((e) => e.name === 'GORTEN_LEASE_NAME')?.value;
  if (!lease) throw new Error('the Deployment sets no GORTEN_LEASE_NAME');
  return lease;
})();
const podName = `${release}-gorten-7d9f8-x2k4q`;

const workDir = mkdtempSync(join(tmpdir(), 'gorten-chart-int-'));
let operator: ChildProcess | undefined;
let operatorLog = '';
let metricsPort = 0;
let serviceAccount: Kube | undefined;

/** The Secrets the chart expects to exist, filled from the test environment. */
async function createDependencySecrets(): Promise<void> {
  const secretsByName = new Map<string, Record<string, string>>();
  const mongoSecret = container.env.find((e) => e.name === 'GORTEN_MONGO_ADMIN_URL')?.valueFrom
    ?.secretKeyRef;
  const userSecret = container.env.find((e) => e.name === 'GORTEN_RABBITMQ_ADMIN_USER')?.valueFrom
    ?.secretKeyRef;
  const passwordSecret = container.env.find((e) => e.name === 'GORTEN_RABBITMQ_ADMIN_PASSWORD')
    ?.valueFrom?.secretKeyRef;
  const smtpSecret = container.env.find((e) => e.name === 'GORTEN_SMTP_URL')?.valueFrom
    ?.secretKeyRef;
  const redisSecret = container.env.find((e) => e.name === 'GORTEN_REDIS_ADMIN_URL')?.valueFrom
    ?.secretKeyRef;
  if (!mongoSecret || !userSecret || !passwordSecret || !smtpSecret || !redisSecret) {
    throw new Error('the Deployment should take the credentials and the mail relay from Secrets');
  }
  const put = (ref: { name: string; key: string }, value: string): void => {
    secretsByName.set(ref.name, { ...secretsByName.get(ref.name), [ref.key]: value });
  };
  put(mongoSecret, env.mongo.url);
  put(userSecret, env.rabbitmq.user);
  put(passwordSecret, env.rabbitmq.password);
  put(smtpSecret, 'smtp://127.0.0.1:2525');
  put(redisSecret, env.redis.url);
  for (const [name, stringData] of secretsByName) {
    await admin.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      stringData,
    });
  }
}

/** Server-side apply of every rendered object, strictly validated; the Deployment only as a dry run. */
async function applyChart(): Promise<void> {
  for (const object of objects) {
    const dryRun = object.kind === 'Deployment' ? '&dryRun=All' : '';
    await admin.request(
      'PATCH',
      `${pathOf(object)}?fieldManager=${FIELD_MANAGER}&force=true&fieldValidation=Strict${dryRun}`,
      object,
      'application/apply-patch+yaml',
    );
  }
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    await eventually(
      { what: `CRD ${crd.metadata.name} Established`, timeoutMs: 30_000 },
      async () => {
        const live = await admin.request<{
          status?: { conditions?: { type: string; status: string }[] };
        }>('GET', pathOf(crd));
        return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
          ? true
          : undefined;
      },
    );
  }
}

/** A kubeconfig holding only a fresh token of the chart's ServiceAccount. */
async function serviceAccountKubeconfig(): Promise<string> {
  const answer = await admin.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${pod.serviceAccountName}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    },
  );
  const file = join(workDir, 'kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: { server: env.kube.server, 'certificate-authority': env.kube.caFile },
        },
      ],
      users: [{ name: 'operator', user: { token: answer.status.token } }],
      contexts: [{ name: 'operator', context: { cluster: 'test', user: 'operator' } }],
      'current-context': 'operator',
    }),
    { mode: 0o600 },
  );
  return file;
}

async function startOperatorProcess(kubeconfig: string): Promise<void> {
  const chartEnv = await resolveEnv(
    container.env,
    async (name, key) =>
      secretValue(await admin.get({ apiVersion: 'v1', kind: 'Secret', namespace, name }), key),
    { name: podName, namespace },
  );
  metricsPort = await freePort();
  // Only what the pod would have: none of this test process's GORTEN_* or KUBECONFIG.
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...chartEnv,
    // The in-cluster config, as a file; and a free port instead of the pod's own.
    KUBECONFIG: kubeconfig,
    GORTEN_METRICS_PORT: String(metricsPort),
  };
  const child = spawnTracked(
    'operator',
    join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
    ['operator/src/main.ts'],
    {
      cwd: REPO_ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  operator = child;
  const collect = (chunk: Buffer): void => {
    operatorLog += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const probe = container.readinessProbe.httpGet.path;
  await eventually(
    { what: `operator ${probe}`, timeoutMs: 60_000, ...(child.pid ? { pid: child.pid } : {}) },
    async () => ((await fetch(`http://127.0.0.1:${metricsPort}${probe}`)).ok ? true : undefined),
  ).catch(withOperatorOutput);
}

async function stopOperatorProcess(): Promise<void> {
  const child = operator;
  if (!child || child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  // main.ts gives itself 20 s to release the Lease and close its clients.
  const timedOut = await Promise.race([
    exited.then(() => false),
    sleep(25_000, true, { ref: false }),
  ]);
  if (timedOut) child.kill('SIGKILL');
}

beforeAll(async () => {
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await createDependencySecrets();
  await applyChart();
  const kubeconfig = await serviceAccountKubeconfig();
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  serviceAccount = new Kube(kc);
  await startOperatorProcess(kubeconfig);
  await admin.create(marketplace(shard, marketplaceName, { deletionPolicy: 'Delete' }));
}, 180_000);

afterAll(async () => {
  try {
    // The operator must still run: its finalizers drop the tenant's database and vhost,
    // and mark the company removed. The Company goes first, while its namespace exists.
    if (operator?.exitCode === null) {
      await deleteCompany();
      await deleteMarketplaces(admin, [marketplaceName]);
    }
  } finally {
    await stopOperatorProcess();
    const cleanups = objects
      .filter((o) => !o.metadata.namespace && o.kind !== 'CustomResourceDefinition')
      .map((o) => admin.request('DELETE', pathOf(o)));
    cleanups.push(admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace }));
    await Promise.allSettled(cleanups);
    serviceAccount?.close();
    admin.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}, 120_000);

/** Deletes the test's Company, if it exists, and waits until the operator has finalized it. */
async function deleteCompany(): Promise<void> {
  await admin.delete(companyRef);
  await eventually({ what: `Company ${companyRef.name} deleted`, timeoutMs: 30_000 }, async () =>
    (await admin.get(companyRef)) === undefined ? true : undefined,
  );
}

/** Rethrows a failed wait with what the operator printed, which usually says why. */
function withOperatorOutput(err: unknown): never {
  throw new Error(
    `${(err as Error).message}\n--- operator output ---\n${operatorLog.slice(-4000)}`,
  );
}

function sa(): Kube {
  if (!serviceAccount) throw new Error('no ServiceAccount client (see beforeAll)');
  return serviceAccount;
}

describe('the chart on a real apiserver', () => {
  test('the operator runs as the chart ServiceAccount, not as admin', async () => {
    const review = await sa().request<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    );
    expect(review.status.userInfo.username).toBe(
      `system:serviceaccount:${namespace}:${pod.serviceAccountName}`,
    );
  });

  test('the operator holds the leader Lease in the release namespace', async () => {
    const lease = await admin.request<{ spec: { holderIdentity?: string } }>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${leaseName}`,
    );
    expect(lease.spec.holderIdentity).toBe(podName);
  });

  test('with only the chart RBAC, a Marketplace becomes Ready, its cache included', async () => {
    const ready = await waitForCondition(
      admin,
      marketplaceName,
      'Ready',
      'True',
      undefined,
      90_000,
    ).catch(withOperatorOutput);
    expect(findCondition(ready.status?.conditions, 'CacheReady')).toMatchObject({
      status: 'True',
      reason: 'Provisioned',
    });
  });

  test('and a Company in it becomes Ready, then is finalized on deletion', async () => {
    await admin.create({
      apiVersion: companyRef.apiVersion,
      kind: companyRef.kind,
      metadata: {
        name: companyRef.name,
        namespace: companyRef.namespace,
        labels: { [SHARD_LABEL]: shard },
      },
      spec: { displayName: 'Seller', contactEmail: 'seller@example.com' },
    });
    await eventually({ what: `Company ${companyRef.name} Ready`, timeoutMs: 60_000 }, async () => {
      const company = await admin.get<Company>(companyRef);
      return findCondition(company?.status?.conditions, 'Ready')?.status === 'True'
        ? true
        : undefined;
    }).catch(withOperatorOutput);
    await deleteCompany().catch(withOperatorOutput);
  });

  test('no request of the operator was refused, best-effort Events included', async () => {
    // A refused Event is only logged, so look for the Events themselves too.
    await eventually(
      { what: `an Event about Marketplace ${marketplaceName}`, timeoutMs: 15_000 },
      async () => {
        const events = await admin.list<KubeObject & { source?: { component?: string } }>(
          { apiVersion: 'v1', kind: 'Event', namespace: 'default' },
          `fieldSelector=involvedObject.name=${marketplaceName}`,
        );
        return events.items.some((e) => e.source?.component === 'gorten-operator')
          ? true
          : undefined;
      },
    );
    expect(operatorLog).toContain('became leader');
    expect(operatorLog).not.toMatch(/forbidden/i);
  });

  test('the ServiceAccount may do nothing the operator does not need', async () => {
    const allowed = async (attributes: Record<string, string>): Promise<boolean> => {
      const review = await sa().request<{ status: { allowed: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: attributes },
        },
      );
      return review.status.allowed;
    };
    const checks: [string, Record<string, string>, boolean][] = [
      [
        'renew its own Lease',
        {
          verb: 'update',
          group: 'coordination.k8s.io',
          resource: 'leases',
          namespace,
          name: leaseName,
        },
        true,
      ],
      ['anything at all', { verb: '*', group: '*', resource: '*' }, false],
      [
        'delete a CRD',
        {
          verb: 'delete',
          group: 'apiextensions.k8s.io',
          resource: 'customresourcedefinitions',
          name: 'marketplaces.gorten.io',
        },
        false,
      ],
      [
        'change a CRD',
        { verb: 'patch', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
        false,
      ],
      ['watch Secrets', { verb: 'watch', resource: 'secrets' }, false],
      [
        'delete a Marketplace',
        { verb: 'delete', group: 'gorten.io', resource: 'marketplaces' },
        false,
      ],
      ['delete a namespace', { verb: 'delete', resource: 'namespaces' }, false],
      ['create Pods', { verb: 'create', resource: 'pods', namespace: 'default' }, false],
      ['read Pods', { verb: 'list', resource: 'pods' }, false],
      [
        'read Secrets outside tenant namespaces',
        { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
        false,
      ],
      ['list Secrets cluster-wide', { verb: 'list', resource: 'secrets' }, false],
      [
        'keep its tenant’s Secrets',
        { verb: 'list', resource: 'secrets', namespace: tenantNamespace },
        true,
      ],
      [
        'apply its tenant’s ServiceMonitor',
        {
          verb: 'patch',
          group: 'monitoring.coreos.com',
          resource: 'servicemonitors',
          namespace: tenantNamespace,
        },
        true,
      ],
      [
        'delete its tenant’s ServiceMonitor',
        {
          verb: 'delete',
          group: 'monitoring.coreos.com',
          resource: 'servicemonitors',
          namespace: tenantNamespace,
        },
        false,
      ],
      [
        'write ServiceMonitors outside tenant namespaces',
        {
          verb: 'create',
          group: 'monitoring.coreos.com',
          resource: 'servicemonitors',
          namespace: 'kube-system',
        },
        false,
      ],
      [
        'watch the tenants’ Deployments across namespaces',
        { verb: 'watch', group: 'apps', resource: 'deployments' },
        true,
      ],
      [
        'watch the tenants’ KongUpstreamPolicies across namespaces',
        { verb: 'watch', group: 'configuration.konghq.com', resource: 'kongupstreampolicies' },
        true,
      ],

      [
        'change Deployments outside tenant namespaces',
        { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'kube-system' },
        false,
      ],
      [
        'relabel a namespace',
        { verb: 'patch', resource: 'namespaces', name: 'kube-system' },
        false,
      ],
      [
        'bind any other role',
        {
          verb: 'bind',
          group: 'rbac.authorization.k8s.io',
          resource: 'clusterroles',
          name: 'cluster-admin',
        },
        false,
      ],
      [
        'take another Lease',
        {
          verb: 'update',
          group: 'coordination.k8s.io',
          resource: 'leases',
          namespace,
          name: 'some-other-lease',
        },
        false,
      ],
      [
        'touch Leases elsewhere',
        { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system' },
        false,
      ],
    ];
    const answers = await Promise.all(
      checks.map(async ([what, attributes]) => [what, await allowed(attributes)]),
    );
    expect(Object.fromEntries(answers)).toEqual(
      Object.fromEntries(checks.map(([what, , expected]) => [what, expected])),
    );
  });

  test('the admission policy refuses the operator a RoleBinding outside tenant namespaces', async () => {
    const tenantRole = objects.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-tenant'),
    );
    if (!tenantRole) throw new Error('the chart renders no tenant ClusterRole');
    const binding = (ns: string): KubeObject => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `escalate-${run}`, namespace: ns },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: tenantRole.metadata.name,
      },
      subjects: [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace }],
    });
    const create = sa().request(
      'POST',
      '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings',
      binding('kube-system'),
    );
    // RBAC allowed it (the operator may bind the tenant role); the policy refuses it.
    await expect(create).rejects.toMatchObject({ status: 422 });
    await expect(create).rejects.toThrow(/tenant namespaces/);
  });
});
