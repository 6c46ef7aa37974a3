// The control plane is real: CRDs, watches, namespace deletion, garbage collection and
// Deployments that become available on kwok's simulated nodes.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Watch,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { eventually, loadTestEnv } from '../src/index.js';

const env = loadTestEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.kube.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const ext = kc.makeApiClient(ApiextensionsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const suffix = randomBytes(3).toString('hex');

/** Resolves true once reading the object answers 404. */
async function gone(read: () => Promise<unknown>): Promise<true | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return true;
    throw err;
  }
}

test('a CRD is applied, a custom object is created and a watch sees it', async () => {
  const group = `smoke${suffix}.gorten.io`;
  const crd: V1CustomResourceDefinition = {
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
              },
            },
          },
        },
      ],
    },
  };
  await ext.createCustomResourceDefinition({ body: crd });
  await eventually({ what: 'CRD Established', timeoutMs: 30_000 }, async () => {
    const read = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
    return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
      ? true
      : undefined;
  });

  // A new resource's watch cache starts a moment after Established; until then the
  // apiserver answers 429 and a client retries, as any controller does.
  const seen: string[] = [];
  const watching = await eventually({ what: 'watch opened', timeoutMs: 30_000 }, async () => {
    let failure: Error | undefined;
    const controller = await new Watch(kc).watch(
      `/apis/${group}/v1/namespaces/default/widgets`,
      {},
      (phase, obj: { metadata: { name: string } }) => seen.push(`${phase} ${obj.metadata.name}`),
      (err: unknown) =>
        (failure = err instanceof Error ? err : new Error(`watch closed: ${String(err)}`)),
    );
    await sleep(300);
    if (failure === undefined) return controller;
    controller.abort();
    throw failure;
  });
  try {
    const body = {
      apiVersion: `${group}/v1`,
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { size: 3 },
    };
    await custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      body,
    });
    await eventually({ what: 'watch event ADDED w1', timeoutMs: 10_000 }, () =>
      seen.includes('ADDED w1') ? true : undefined,
    );
    // The schema is enforced: size must be >= 1.
    const bad = { ...body, metadata: { name: 'w2' }, spec: { size: 0 } };
    await expect(
      custom.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        body: bad,
      }),
    ).rejects.toMatchObject({ code: 422 });
  } finally {
    watching.abort();
    await ext.deleteCustomResourceDefinition({ name: crd.metadata!.name! });
  }
});

test('a deleted namespace disappears instead of staying Terminating', async () => {
  const name = `smoke-ns-${suffix}`;
  await core.createNamespace({ body: { metadata: { name } } });
  await core.createNamespacedConfigMap({
    namespace: name,
    body: { metadata: { name: 'content' }, data: { a: '1' } },
  });
  await core.deleteNamespace({ name });
  await eventually({ what: `namespace ${name} gone`, timeoutMs: 60_000 }, () =>
    gone(() => core.readNamespace({ name })),
  );
});

test('a child with an ownerReference is garbage-collected after its owner is deleted', async () => {
  const owner = await core.createNamespacedConfigMap({
    namespace: 'default',
    body: { metadata: { name: `owner-${suffix}` } },
  });
  const childName = `child-${suffix}`;
  await core.createNamespacedConfigMap({
    namespace: 'default',
    body: {
      metadata: {
        name: childName,
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: owner.metadata!.name!,
            uid: owner.metadata!.uid!,
          },
        ],
      },
    },
  });
  await core.deleteNamespacedConfigMap({ name: owner.metadata!.name!, namespace: 'default' });
  await eventually({ what: `${childName} collected`, timeoutMs: 60_000 }, () =>
    gone(() => core.readNamespacedConfigMap({ name: childName, namespace: 'default' })),
  );
});

test('a Deployment with 2 replicas reaches 2 available replicas on the simulated nodes', async () => {
  const name = `smoke-deploy-${suffix}`;
  const labels = { app: name };
  await apps.createNamespacedDeployment({
    namespace: 'default',
    body: {
      metadata: { name },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'app', image: 'gorten/never-pulled:1' }] },
        },
      },
    },
  });
  try {
    const deployment = await eventually(
      { what: `${name} available`, timeoutMs: 90_000 },
      async () => {
        const read = await apps.readNamespacedDeployment({ name, namespace: 'default' });
        return read.status?.availableReplicas === 2 ? read : undefined;
      },
    );
    expect(deployment.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({
      namespace: 'default',
      labelSelector: `app=${name}`,
    });
    expect(pods.items.map((p) => p.spec?.nodeName?.startsWith('kwok-node-'))).toEqual([true, true]);
  } finally {
    await apps.deleteNamespacedDeployment({ name, namespace: 'default' });
  }
});
