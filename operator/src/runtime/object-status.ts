// What both controllers do to their own resources: keep the finalizer on while they own
// cleanup, and write status only when it changed, with an Event per condition transition.
import type { Kube, KubeObject } from '../clients/kube.js';
import type { ObjectRef } from '../clients/resources.js';
import { deepEqual } from './equality.js';
import { eventType, transitions, type Condition } from './conditions.js';
import type { EventRecorder } from './events.js';

type Ref = ObjectRef & { name: string };

/** The one call a status write needs: a Kube, or a recorder in unit tests. */
export interface StatusPatcher {
  mergePatch(ref: Ref, patch: unknown, subresource?: string): Promise<unknown>;
}

/** Adds `finalizer` unless present; resourceVersion guards against lost updates. */
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

/** Writes `status` when it differs from the object's, then records the transitions. */
export async function writeStatus(
  kube: StatusPatcher,
  events: Pick<EventRecorder, 'record'>,
  ref: Ref,
  object: KubeObject & { status?: { conditions?: Condition[] } },
  status: { conditions?: Condition[]; [field: string]: unknown },
): Promise<void> {
  const current = object.status ?? {};
  if (deepEqual(current, status)) return;
  await kube.mergePatch(ref, { status }, '/status');
  for (const c of transitions(current.conditions ?? [], status.conditions ?? [])) {
    await events.record(object, eventType(c), c.reason, `${c.type} is ${c.status}: ${c.message}`);
  }
}
