// metav1.Condition bookkeeping, pure: a condition keeps its lastTransitionTime unless
// its status flips, so rewriting the same state changes nothing.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Returns the new list with `update` merged in (same order, new types appended). */
export function setCondition(
  conditions: readonly Condition[],
  update: ConditionUpdate,
  generation: number,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === update.type);
  const next: Condition = {
    ...update,
    observedGeneration: generation,
    lastTransitionTime:
      previous && previous.status === update.status
        ? previous.lastTransitionTime
        : now.toISOString(),
  };
  return previous
    ? conditions.map((c) => (c.type === update.type ? next : c))
    : [...conditions, next];
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Reasons of a condition that is False only because work is under way, not because it failed. */
export const PROGRESSING_REASONS: ReadonlySet<string> = new Set(['RollingOut', 'Progressing']);

/** A cluster without the Prometheus Operator gets no ServiceMonitors (planes/service-monitor.ts). */
export const NO_PROMETHEUS_OPERATOR = 'NoPrometheusOperator';

/** Reasons of a condition False by design of the cluster, not by a failure. */
export const BY_DESIGN_REASONS: ReadonlySet<string> = new Set([NO_PROMETHEUS_OPERATOR]);

/** An Event for a transition is a Warning when something failed, Normal otherwise. */
export function eventType(condition: Pick<Condition, 'status' | 'reason'>): 'Normal' | 'Warning' {
  return condition.status === 'False' &&
    !PROGRESSING_REASONS.has(condition.reason) &&
    !BY_DESIGN_REASONS.has(condition.reason)
    ? 'Warning'
    : 'Normal';
}

/**
 * The aggregate Ready condition: True when every listed condition is True; otherwise
 * False (or Unknown) naming the planes that are not ready yet.
 */
export function aggregateReady(
  conditions: readonly Condition[],
  types: readonly string[],
): ConditionUpdate {
  const notReady = types
    .map(
      (type) =>
        findCondition(conditions, type) ?? {
          type,
          status: 'Unknown' as const,
          reason: 'Pending',
          message: '',
        },
    )
    .filter((c) => c.status !== 'True');
  if (notReady.length === 0) {
    return {
      type: 'Ready',
      status: 'True',
      reason: 'AllPlanesReady',
      message: 'every plane is ready',
    };
  }
  const failed = notReady.filter((c) => c.status === 'False' && !PROGRESSING_REASONS.has(c.reason));
  const progressing = notReady.some((c) => c.status === 'False');
  return {
    type: 'Ready',
    status: failed.length > 0 || progressing ? 'False' : 'Unknown',
    reason: failed.length > 0 ? 'PlanesNotReady' : progressing ? 'Progressing' : 'Reconciling',
    message: notReady
      .map((c) => `${c.type}: ${c.reason}${c.message ? ` (${c.message})` : ''}`)
      .join('; '),
  };
}

/** Conditions whose status differs between two lists: the transitions worth an Event. */
export function transitions(
  before: readonly Condition[],
  after: readonly Condition[],
): Condition[] {
  return after.filter((c) => findCondition(before, c.type)?.status !== c.status);
}
