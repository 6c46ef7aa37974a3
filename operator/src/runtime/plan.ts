// The reconcile plan both controllers share: every plane converges on its own and reports
// one condition; the runner sets those conditions and the aggregate Ready, writes the
// status (with an Event per transition) and tells the work queue what next — retry with
// backoff when a plane failed, look again soon when one is only under way, else nothing.
import type { KubeObject } from '../clients/kube.js';
import type { ObjectRef } from '../clients/resources.js';
import {
  aggregateReady,
  setCondition,
  type Condition,
  type ConditionUpdate,
} from './conditions.js';
import type { EventRecorder } from './events.js';
import { writeStatus, type StatusPatcher } from './status.js';
import type { ReconcileResult } from './workqueue.js';

/** What one plane found. The runner names the condition, so a plane cannot misspell it. */
export interface PlaneOutcome {
  status: 'True' | 'False';
  reason: string;
  message: string;
  /** The plane could not converge: the queue retries the key with backoff. */
  failed: boolean;
  /** Work under way, not a failure: look again after this long (no backoff). */
  requeueAfterMs?: number;
  /**
   * Further conditions the plane reports that Ready does not wait for (DatabaseIsolated):
   * facts about what it made, with an Event when they change like any other condition.
   */
  informational?: readonly ConditionUpdate[];
}

/** One part of what a resource gets, reported as the condition `condition`. */
export interface Plane<C extends string, Ctx> {
  readonly condition: C;
  converge(ctx: Ctx): Promise<PlaneOutcome>;
  /** The reason a throw from `converge` is reported with. */
  failureReason(err: unknown): string;
}

export const ready = (reason: string, message: string): PlaneOutcome => ({
  status: 'True',
  reason,
  message,
  failed: false,
});

export const failed = (reason: string, message: string): PlaneOutcome => ({
  status: 'False',
  reason,
  message,
  failed: true,
});

/** False while work is under way (a rollout): polled after `requeueAfterMs`, not retried. */
export const progressing = (
  reason: string,
  message: string,
  requeueAfterMs: number,
): PlaneOutcome => ({ status: 'False', reason, message, failed: false, requeueAfterMs });

/** False on purpose (a suspended credential): nothing failed, nothing to retry. */
export const withheld = (reason: string, message: string): PlaneOutcome => ({
  status: 'False',
  reason,
  message,
  failed: false,
});

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A plane that could not converge; the queue retries the key with backoff. */
export class PlaneFailure extends Error {
  override name = 'PlaneFailure';
}

/** The resource whose status a plan writes, and its status fields besides the conditions. */
export interface PlanSubject<F extends object> {
  ref: ObjectRef & { name: string };
  object: KubeObject & { status?: { conditions?: Condition[] } };
  fields: F;
}

export interface PlanIO {
  kube: StatusPatcher;
  events: Pick<EventRecorder, 'record'>;
  now?: () => Date;
}

/** Converges every plane at once, then reports them all (see `report`). */
export async function runPlanes<C extends string, Ctx, F extends object>(
  io: PlanIO,
  subject: PlanSubject<F>,
  planes: readonly Plane<C, Ctx>[],
  ctx: Ctx,
): Promise<ReconcileResult | undefined> {
  const outcomes = await Promise.all(
    planes.map(async (plane): Promise<[C, PlaneOutcome]> => {
      try {
        return [plane.condition, await plane.converge(ctx)];
      } catch (err) {
        return [plane.condition, failed(plane.failureReason(err), errorMessage(err))];
      }
    }),
  );
  return report(
    io,
    subject,
    planes.map((p) => p.condition),
    outcomes,
  );
}

/**
 * Sets each outcome's condition and Ready over `readyOf`, writes the status, then throws
 * PlaneFailure naming the failed planes, or asks for the soonest poll. Outcomes may cover
 * only some of `readyOf` (a reconcile that could not run every plane); the others keep
 * the condition they had.
 */
export async function report<C extends string, F extends object>(
  io: PlanIO,
  subject: PlanSubject<F>,
  readyOf: readonly C[],
  outcomes: readonly (readonly [NoInfer<C>, PlaneOutcome])[],
): Promise<ReconcileResult | undefined> {
  const { object } = subject;
  const generation = object.metadata.generation ?? 0;
  const conditions = settle(
    object.status?.conditions ?? [],
    readyOf,
    outcomes,
    generation,
    (io.now ?? (() => new Date()))(),
  );
  await writeStatus(io.kube, io.events, subject.ref, object, {
    ...subject.fields,
    observedGeneration: generation,
    conditions,
  });
  return nextStep(outcomes);
}

/**
 * The resource is refused before any plane could run (its namespace is someone else's):
 * Ready False with `reason` (a Warning Event on the transition), the planes' conditions
 * as they were. Throws PlaneFailure, so the queue retries with backoff.
 */
export async function refuse<F extends object>(
  io: PlanIO,
  subject: PlanSubject<F>,
  reason: string,
  message: string,
): Promise<never> {
  const { object } = subject;
  const generation = object.metadata.generation ?? 0;
  const conditions = setCondition(
    object.status?.conditions ?? [],
    { type: 'Ready', status: 'False', reason, message },
    generation,
    (io.now ?? (() => new Date()))(),
  );
  await writeStatus(io.kube, io.events, subject.ref, object, {
    ...subject.fields,
    observedGeneration: generation,
    conditions,
  });
  throw new PlaneFailure(`Ready: ${reason}`);
}

/** The conditions after `outcomes`, with Ready aggregated over `readyOf`. Pure. */
function settle<C extends string>(
  current: readonly Condition[],
  readyOf: readonly C[],
  outcomes: readonly (readonly [NoInfer<C>, PlaneOutcome])[],
  generation: number,
  now: Date,
): Condition[] {
  let conditions = [...current];
  for (const [type, { status, reason, message, informational = [] }] of outcomes) {
    conditions = setCondition(conditions, { type, status, reason, message }, generation, now);
    for (const fact of informational) conditions = setCondition(conditions, fact, generation, now);
  }
  return setCondition(conditions, aggregateReady(conditions, readyOf), generation, now);
}

/** Throws PlaneFailure when a plane failed; else the soonest poll any plane asked for. Pure. */
function nextStep(
  outcomes: readonly (readonly [string, PlaneOutcome])[],
): ReconcileResult | undefined {
  const failures = outcomes.filter(([, o]) => o.failed);
  if (failures.length > 0)
    throw new PlaneFailure(failures.map(([type, o]) => `${type}: ${o.reason}`).join('; '));
  const polls = outcomes.flatMap(([, o]) =>
    o.requeueAfterMs === undefined ? [] : [o.requeueAfterMs],
  );
  return polls.length > 0 ? { requeueAfterMs: Math.min(...polls) } : undefined;
}
