// The operator's Prometheus metrics, in one registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  /** Set by the operator: the conditions of every known Marketplace, read at scrape time. */
  tenantConditions: () => { type: string; status: string }[][] = () => [];
  readonly tenantsByCondition = new Gauge({
    name: 'gorten_operator_marketplaces',
    help: 'Marketplaces by condition type and status',
    labelNames: ['condition', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      this.tenantsByCondition.reset();
      for (const conditions of this.tenantConditions()) {
        for (const c of conditions)
          this.tenantsByCondition.inc({ condition: c.type, status: c.status });
      }
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
    help: 'Changes the operator made in MongoDB and RabbitMQ (0 per resync once converged)',
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
}
