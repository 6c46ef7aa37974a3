// The finalizer a controller keeps on its own resource while it owns cleanup. Both
// writes carry the resourceVersion read, so a concurrent change is refused, not lost.
import type { Kube, KubeObject } from '../clients/kube.js';
import type { ObjectRef } from '../clients/resources.js';

type Ref = ObjectRef & { name: string };

/** Adds `finalizer` unless present. */
export async function addFinalizer(
  kube: Kube,
  ref: Ref,
  object: KubeObject,
  finalizer: string,
): Promise<void> {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer))
    await writeFinalizers(kube, ref, object, [...finalizers, finalizer]);
}

export async function removeFinalizer(
  kube: Kube,
  ref: Ref,
  object: KubeObject,
  finalizer: string,
): Promise<void> {
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(finalizer))
    await writeFinalizers(
      kube,
      ref,
      object,
      finalizers.filter((f) => f !== finalizer),
    );
}

function writeFinalizers(kube: Kube, ref: Ref, object: KubeObject, finalizers: string[]) {
  return kube.mergePatch(ref, {
    metadata: { finalizers, resourceVersion: object.metadata.resourceVersion },
  });
}
