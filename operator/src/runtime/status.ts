// A controller's status write: only when the status changed, with an Event per
// condition transition.
import type { KubeObject } from '../clients/kube.js';
import type { ObjectRef } from '../clients/resources.js';
import { deepEqual } from './equality.js';
import { eventType, transitions, type Condition } from './conditions.js';
import type { EventRecorder } from './events.js';

type Ref = ObjectRef & { name: string };

/** The one call a status write needs: a Kube, or a recorder in unit tests. */
export interface StatusPatcher {
  mergePatch(ref: Ref, patch: unknown, subresource?: string): Promise<unknown>;
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
