// Converging a set of objects with as few requests as possible: one list per kind and
// namespace instead of a read per object (or an informer's cache), an apply only where the
// live object differs — a few at once, in waves that keep what names something after it —
// and, for kinds that come and go with the spec (an HPA, a route), deletion of what the
// set no longer contains.
import type { Kube, KubeObject } from './kube.js';
import { refOf } from './kube.js';
import { containsDesired } from '../runtime/equality.js';

export interface KindRef {
  apiVersion: string;
  kind: string;
}

export interface ApplySetResult {
  applied: string[];
  pruned: string[];
  /** Live objects after the apply, by "Kind/name". */
  live: Map<string, KubeObject>;
}

const label = (o: { kind: string; metadata: { name: string } }): string =>
  `${o.kind}/${o.metadata.name}`;

/** Applies in flight at once within one wave: the apiserver's work, not ours, bounds it. */
const APPLY_CONCURRENCY = 4;

/**
 * When a kind may be applied: after every kind it names. Secrets and ConfigMaps before
 * the pods that mount them, a KongUpstreamPolicy or KongPlugin before the Service or
 * Ingress naming it (Kong's controller never sees a reference to nothing), a Deployment
 * or Service before the HPA, Ingress or ServiceMonitor aimed at it. Unknown kinds: 1.
 */
const APPLY_WAVE: Readonly<Record<string, number>> = {
  Secret: 0,
  ConfigMap: 0,
  ResourceQuota: 0,
  LimitRange: 0,
  NetworkPolicy: 0,
  KongUpstreamPolicy: 0,
  KongPlugin: 0,
  KongConsumer: 0,
  Deployment: 1,
  Service: 1,
  PodDisruptionBudget: 1,
  HorizontalPodAutoscaler: 2,
  Ingress: 2,
  ServiceMonitor: 2,
};

/** `objects` in waves (APPLY_WAVE), each in the given order; a wave's objects may go at once. */
export function applyWaves(objects: readonly KubeObject[]): KubeObject[][] {
  const waves: KubeObject[][] = [];
  for (const o of objects) (waves[APPLY_WAVE[o.kind] ?? 1] ??= []).push(o);
  return waves.filter((wave) => wave.length > 0);
}

/** Runs `work` on each item, at most `limit` at once; rejects with the first failure. */
export async function eachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Applies `objects` (all in `namespace`) and deletes live objects of the `prune` kinds
 * that carry `ownerLabel` but are not in the set.
 */
export async function applySet(
  kube: Kube,
  namespace: string,
  objects: readonly KubeObject[],
  prune: readonly KindRef[],
  ownerLabel: [string, string],
  /** Lists the caller already made (by "apiVersion/Kind"), so they are not read twice. */
  listed: ReadonlyMap<string, readonly KubeObject[]> = new Map(),
): Promise<ApplySetResult> {
  const kinds = new Map<string, KindRef>();
  for (const o of [...objects, ...prune])
    kinds.set(`${o.apiVersion}/${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
  const live = new Map<string, KubeObject>();
  await Promise.all(
    [...kinds.entries()].map(async ([key, k]) => {
      const items = listed.get(key) ?? (await kube.list<KubeObject>({ ...k, namespace })).items;
      for (const item of items)
        live.set(label({ kind: k.kind, metadata: item.metadata }), {
          ...item,
          kind: k.kind,
          apiVersion: k.apiVersion,
        });
    }),
  );
  const result: ApplySetResult = { applied: [], pruned: [], live };
  for (const wave of applyWaves(objects)) {
    const stale = wave.filter((desired) => {
      const current = live.get(label(desired));
      return !(current && containsDesired(current, desired));
    });
    await eachBounded(stale, APPLY_CONCURRENCY, async (desired) => {
      live.set(label(desired), await kube.apply(desired));
      result.applied.push(label(desired));
    });
  }
  const wanted = new Set(objects.map(label));
  const pruneKinds = new Set(prune.map((k) => k.kind));
  for (const [key, object] of live) {
    if (!pruneKinds.has(object.kind) || wanted.has(key)) continue;
    if (object.metadata.labels?.[ownerLabel[0]] !== ownerLabel[1]) continue;
    await kube.delete(refOf(object));
    live.delete(key);
    result.pruned.push(key);
  }
  return result;
}
