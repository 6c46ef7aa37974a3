// The operator's Prometheus metrics, in one registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PlaneObserver } from './plan.js';

const STATUSES = ['True', 'False', 'Unknown'] as const;

/**
 * Tenants by condition type and status, as the gauge reports them: every type in `known`
 * has all three statuses (0 where no tenant is so), a tenant without a condition counts
 * as Unknown for it (as Kubernetes reads a missing condition), and types a tenant
 * carries beyond `known` are counted as seen. So per type the counts add up to the
 * number of tenants. Pure.
 */
export function countTenantsByCondition(
  tenants: readonly (readonly { type: string; status: string }[])[],
  known: readonly string[],
): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  const add = (type: string, status: string, n: number) => {
    const byStatus = counts.get(type) ?? new Map<string, number>();
    byStatus.set(status, (byStatus.get(status) ?? 0) + n);
    counts.set(type, byStatus);
  };
  for (const type of known) for (const status of STATUSES) add(type, status, 0);
  for (const conditions of tenants) {
    for (const type of known)
      add(type, conditions.find((c) => c.type === type)?.status ?? 'Unknown', 1);
    for (const c of conditions) if (!known.includes(c.type)) add(c.type, c.status, 1);
  }
  return counts;
}

/** What the operator knows of one Marketplace at scrape time. */
export interface TenantConditions {
  name: string;
  conditions: readonly { type: string; status: string }[];
}

function isReady(conditions: TenantConditions['conditions']): boolean {
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'gorten_operator_reconcile_total',
    help: 'Reconciles by controller and result (success, error)',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'gorten_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took',
    labelNames: ['controller'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'gorten_operator_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly planeDuration = new Histogram({
    name: 'gorten_operator_plane_duration_seconds',
    help: 'Time one plane of a reconcile took, by controller and plane (its condition type)',
    labelNames: ['controller', 'plane'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly planeErrors = new Counter({
    name: 'gorten_operator_plane_errors_total',
    help: 'Planes that could not converge (retried with backoff), by controller and plane',
    labelNames: ['controller', 'plane'] as const,
    registers: [this.registry],
  });
  /**
   * Set by the operator: every known Marketplace's name and conditions, read at scrape
   * time; undefined until its informer has listed them (a standby replica reports none).
   */
  tenantConditions: () => TenantConditions[] | undefined = () => undefined;
  /** Set by the operator: the condition types every Marketplace reports, Ready included. */
  tenantConditionTypes: readonly string[] = [];
  readonly tenantsByCondition = new Gauge({
    name: 'gorten_operator_marketplaces',
    help: 'Marketplaces by condition type and status (a missing condition counts as Unknown)',
    labelNames: ['condition', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      this.tenantsByCondition.reset();
      const tenants = this.tenantConditions();
      if (!tenants) return;
      const counts = countTenantsByCondition(
        tenants.map((t) => t.conditions),
        this.tenantConditionTypes,
      );
      for (const [condition, byStatus] of counts)
        for (const [status, n] of byStatus) this.tenantsByCondition.set({ condition, status }, n);
    },
  });
  /**
   * One series per tenant, so an alert can name the Marketplace that is not Ready (the
   * counts above cannot); as many series as tenants, the bound kube-state-metrics keeps.
   */
  readonly tenantReady = new Gauge({
    name: 'gorten_operator_marketplace_ready',
    help: '1 while a Marketplace is Ready, 0 while it is not (or has no Ready condition yet)',
    labelNames: ['marketplace'] as const,
    registers: [this.registry],
    collect: () => {
      this.tenantReady.reset();
      for (const tenant of this.tenantConditions() ?? [])
        this.tenantReady.set({ marketplace: tenant.name }, isReady(tenant.conditions) ? 1 : 0);
    },
  });
  readonly apiRequests = new Counter({
    name: 'gorten_operator_kube_requests_total',
    help: 'Requests to the Kubernetes API by kind of request (read, write)',
    labelNames: ['verb'] as const,
    registers: [this.registry],
  });
  readonly dependencyWrites = new Counter({
    name: 'gorten_operator_dependency_writes_total',
    help: 'Changes the operator made in MongoDB, RabbitMQ and Redis (0 per resync once converged)',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'gorten_operator_leader',
    help: '1 while this replica holds the leader Lease',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** What a controller's plans report to: every plane's duration, and its errors (0 too). */
  planeObserver(controller: string): PlaneObserver {
    return {
      observe: (plane, seconds, failed) => {
        this.planeDuration.observe({ controller, plane }, seconds);
        this.planeErrors.inc({ controller, plane }, failed ? 1 : 0);
      },
    };
  }
}
