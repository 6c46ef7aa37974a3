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
  if (finalizers.includes(finalizer)) return;
  await kube.mergePatch(ref, {
    metadata: {
      finalizers: [...finalizers, finalizer],
      resourceVersion: object.metadata.resourceVersion,
    },
  });
}

export async function removeFinalizer(
  kube: Kube,
  ref: Ref,
  object: KubeObject,
  finalizer: string,
): Promise<void> {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) return;
  await kube.mergePatch(ref, {
    metadata: {
      finalizers: finalizers.filter((f) => f !== finalizer),
      resourceVersion: object.metadata.resourceVersion,
    },
  });
}
