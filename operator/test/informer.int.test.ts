// The informer heals itself: watches the server ends are reopened without a new list;
// a watch that breaks, or is answered 410 Gone (its version compacted away), is followed
// by a fresh list, and no change is missed either way. Its cache keeps no managedFields.
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { eventually, startPrivateKube } from '@gorten/testenv';
import { Kube, type KubeObject } from '../src/clients/kube.js';
import { Informer } from '../src/runtime/informer.js';
import { env, testKube } from './support.js';

const kube = testKube();
const kc = new KubeConfig();
kc.loadFromFile(env.kube.kubeconfig);
const namespace = `informer-${randomBytes(3).toString('hex')}`;
const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap', namespace } as const;

beforeAll(async () => {
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
});
afterAll(async () => {
  await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  kube.close();
});

const configMap = (name: string, value: string): KubeObject => ({
  ...CONFIGMAP,
  metadata: { name, namespace },
  data: { value },
});

test('events keep flowing across server-side watch timeouts, without relisting', async () => {
  const seen = new Set<string>();
  const informer = new Informer<KubeObject>(kube, kc, CONFIGMAP, (key) => seen.add(key), {
    watchTimeoutSeconds: 1,
  });
  await kube.create(configMap('before', '1'));
  await informer.start();
  try {
    expect(informer.cache.has(`${namespace}/before`)).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500)); // at least two watches have ended by now
    await kube.create(configMap('after-timeouts', '1'));
    await eventually({ what: 'event after watch timeouts', timeoutMs: 10_000 }, () =>
      seen.has(`${namespace}/after-timeouts`) ? true : undefined,
    );
    expect(informer.lists).toBe(1);
    // Listed or watched, the cache keeps no managedFields (the server sends them).
    for (const key of [`${namespace}/before`, `${namespace}/after-timeouts`])
      expect(informer.cache.get(key)?.metadata).not.toHaveProperty('managedFields');
    expect(
      (await kube.get({ ...CONFIGMAP, name: 'before' }))?.metadata.managedFields,
    ).toBeDefined();
  } finally {
    informer.stop();
  }
});

test('a broken watch is reopened after a fresh list; changes made meanwhile are not missed', async () => {
  const informer = new Informer<KubeObject>(kube, kc, CONFIGMAP, () => undefined, {
    watchTimeoutSeconds: 60,
  });
  await informer.start();
  try {
    // Make sure the watch is open (an event arrives through it) before breaking it.
    await kube.create(configMap('watch-open', '1'));
    await eventually({ what: 'watch open', timeoutMs: 10_000 }, () =>
      informer.cache.has(`${namespace}/watch-open`) ? true : undefined,
    );
    // Break the connection under the informer, as a network failure would.
    (informer as unknown as { abort?: AbortController }).abort?.abort();
    await kube.create(configMap('during-outage', '1'));
    await kube.delete({ ...CONFIGMAP, name: 'before' });
    await eventually({ what: 'relisted and caught up', timeoutMs: 15_000 }, () =>
      informer.lists >= 2 &&
      informer.cache.has(`${namespace}/during-outage`) &&
      !informer.cache.has(`${namespace}/before`)
        ? true
        : undefined,
    );
    await kube.create(configMap('after-outage', '1'));
    await eventually({ what: 'watching again', timeoutMs: 10_000 }, () =>
      informer.cache.has(`${namespace}/after-outage`) ? true : undefined,
    );
  } finally {
    informer.stop();
  }
});

test('a watch resuming from a version etcd has compacted away is answered 410 Gone, lists afresh and goes on watching', async () => {
  // A cluster of its own, whose watches etcd serves (no watch cache, which keeps its own
  // history): compacting the shared etcd would send every other test's watches to 410.
  const cluster = await startPrivateKube({ watchCache: false });
  const own = new KubeConfig();
  own.loadFromFile(cluster.kube.kubeconfig);
  const ownKube = new Kube(own);
  const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default' } as const;
  const errors: unknown[] = [];
  const informer = new Informer<KubeObject>(ownKube, own, ref, () => undefined, {
    watchTimeoutSeconds: 1,
    onError: (err) => errors.push(err),
  });
  const version = informer as unknown as { resourceVersion: string };
  let stale: NodeJS.Timeout | undefined;
  try {
    await informer.start();
    const listedAt = version.resourceVersion;
    for (let i = 0; i < 3; i++)
      await ownKube.create({ ...ref, metadata: { name: `churn-${i}`, namespace: 'default' } });
    // etcd's JSON gateway: its revisions are the resourceVersions.
    const etcd = async (path: string, body: unknown) =>
      (await (
        await fetch(`${cluster.etcdUrl}/v3/kv/${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
        })
      ).json()) as { header?: { revision?: string } };
    const now = (await etcd('range', { key: Buffer.from('/').toString('base64') })).header;
    await etcd('compaction', { revision: now?.revision, physical: true });
    // Each next watch resumes from the first list's version, as after a long partition;
    // set again and again, since each watch's closing bookmark moves the version on.
    stale = setInterval(() => (version.resourceVersion = listedAt), 5);
    await eventually({ what: 'relisted after 410', timeoutMs: 20_000 }, () =>
      informer.lists >= 2 ? true : undefined,
    );
    clearInterval(stale);
    // Relisted because of the 410, not a failure (a failure is reported and backed off).
    expect(errors).toEqual([]);
    expect(informer.cache.has('default/churn-2')).toBe(true);
    await ownKube.create({ ...ref, metadata: { name: 'after-gone', namespace: 'default' } });
    await eventually({ what: 'watching again after 410', timeoutMs: 10_000 }, () =>
      informer.cache.has('default/after-gone') ? true : undefined,
    );
  } finally {
    clearInterval(stale);
    informer.stop();
    ownKube.close();
    await cluster.stop();
  }
});
