// Converging a set of objects with as few requests as possible: one list per kind and
// namespace instead of a read per object, an apply only where the live object differs,
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
  for (const desired of objects) {
    const current = live.get(label(desired));
    if (current && containsDesired(current, desired)) continue;
    live.set(label(desired), await kube.apply(desired));
    result.applied.push(label(desired));
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
