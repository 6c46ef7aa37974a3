// The reconcile plan both controllers share: every plane converges on its own and reports
// one condition; the runner sets those conditions and the aggregate Ready, writes the
// status (with an Event per transition) and tells the work queue what next — retry with
// backoff when a plane failed, look again soon when one is only under way, else nothing.
// Each plane runs in a span named by its condition, timed and counted (PlaneObserver).
import { performance } from 'node:perf_hooks';
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
import { markFailed, tracer } from './tracing.js';
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

/**
 * False while work is under way (a rollout), not retried: polled after `requeueAfterMs`,
 * or, without it, run again when an event about that work arrives.
 */
export const progressing = (
  reason: string,
  message: string,
  requeueAfterMs?: number,
): PlaneOutcome => ({
  status: 'False',
  reason,
  message,
  failed: false,
  ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
});

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

/** Told of every plane that ran: the operator's metrics (metrics.ts `planeObserver`). */
export interface PlaneObserver {
  observe(plane: string, seconds: number, failed: boolean): void;
}

export interface PlanIO {
  kube: StatusPatcher;
  events: Pick<EventRecorder, 'record'>;
  now?: () => Date;
  planes?: PlaneObserver;
}

/**
 * One plane's converge in a span named by its condition (a child of the reconcile's),
 * a throw turned into a failed outcome with the plane's reason. A failed outcome, thrown
 * or returned, marks the span ERROR and counts as an error of that plane.
 */
async function convergeTraced<C extends string, Ctx>(
  io: PlanIO,
  plane: Plane<C, Ctx>,
  ctx: Ctx,
): Promise<[C, PlaneOutcome]> {
  return tracer.startActiveSpan(plane.condition, async (span): Promise<[C, PlaneOutcome]> => {
    const started = performance.now();
    let outcome: PlaneOutcome;
    let thrown: unknown;
    try {
      outcome = await plane.converge(ctx);
    } catch (err) {
      thrown = err;
      outcome = failed(plane.failureReason(err), errorMessage(err));
    }
    span.setAttributes({
      'gorten.plane.status': outcome.status,
      'gorten.plane.reason': outcome.reason,
    });
    if (outcome.failed) markFailed(span, `${outcome.reason}: ${outcome.message}`, thrown);
    span.end();
    io.planes?.observe(plane.condition, (performance.now() - started) / 1000, outcome.failed);
    return [plane.condition, outcome];
  });
}

/** Converges every plane at once, then reports them all (see `report`). */
export async function runPlanes<C extends string, Ctx, F extends object>(
  io: PlanIO,
  subject: PlanSubject<F>,
  planes: readonly Plane<C, Ctx>[],
  ctx: Ctx,
): Promise<ReconcileResult | undefined> {
  const outcomes = await Promise.all(planes.map((plane) => convergeTraced(io, plane, ctx)));
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
  await writeConditions(io, subject, (conditions, generation, now) =>
    settle(conditions, readyOf, outcomes, generation, now),
  );
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
  await writeConditions(io, subject, (conditions, generation, now) =>
    setCondition(conditions, { type: 'Ready', status: 'False', reason, message }, generation, now),
  );
  throw new PlaneFailure(`Ready: ${reason}`);
}

/** Writes the status with the conditions `next` makes of the current ones. */
async function writeConditions<F extends object>(
  io: PlanIO,
  subject: PlanSubject<F>,
  next: (current: Condition[], generation: number, now: Date) => Condition[],
): Promise<void> {
  const { object } = subject;
  const generation = object.metadata.generation ?? 0;
  const now = (io.now ?? (() => new Date()))();
  await writeStatus(io.kube, io.events, subject.ref, object, {
    ...subject.fields,
    observedGeneration: generation,
    conditions: next(object.status?.conditions ?? [], generation, now),
  });
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
