// Assembles the operator from its configuration: a manager (clients, endpoints, leader
// election; manager.ts) with the Marketplace and Company controllers, and its logger
// (JSON, with the trace and span ids of the reconcile a line is written in, like the
// services'). No I/O at import.
import { mergeTraceLogFields, traceLogFields } from '@gorten/kit/trace-context';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Company, Marketplace } from './api/types.js';
import type { Kube } from './clients/kube.js';
import type { MongoAdmin } from './clients/mongo-admin.js';
import type { RabbitAdmin } from './clients/rabbitmq-admin.js';
import type { RedisAdmin } from './clients/redis-admin.js';
import { setup as setupCompanies } from './company/controller.js';
import type { OperatorConfig } from './config.js';
import { Manager } from './manager.js';
import { setup as setupMarketplaces } from './marketplace/controller.js';
import type { Controller } from './runtime/controller.js';
import type { LeaderElector } from './runtime/lease.js';
import type { OperatorMetrics } from './runtime/metrics.js';

export interface RunningOperator {
  kube: Kube;
  mongo: MongoAdmin;
  rabbit: RabbitAdmin;
  /** Undefined when no Redis is configured (the cache is off). */
  redis?: RedisAdmin;
  metrics: OperatorMetrics;
  marketplaces: Controller<Marketplace>;
  companies: Controller<Company>;
  elector?: LeaderElector;
  /** The port /metrics, /healthz and /readyz answer on. */
  port: number;
  /** True once this replica leads and its informers have listed everything. */
  ready: () => boolean;
  stop: () => Promise<void>;
}

/** Lines go to stdout, or to `destination` (tests read them there). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { component: 'gorten-operator' },
    redact: {
      paths: ['*.password', '*.token', 'password', 'token', 'err.config'],
      censor: '[redacted]',
    },
    // trace_id and span_id inside a span (a reconcile, a plane); nothing outside one.
    mixin: () => traceLogFields(),
    mixinMergeStrategy: mergeTraceLogFields,
  };
  return destination ? pino(options, destination) : pino(options);
}

export async function startOperator(
  config: OperatorConfig,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningOperator> {
  const manager = new Manager(config, log);
  const marketplaces = setupMarketplaces(manager);
  const companies = setupCompanies(manager, marketplaces);
  await manager.start();
  const { kube, mongo, rabbit, redis, metrics, elector, port } = manager;
  const ready = () => manager.ready;
  const stop = () => manager.stop();
  return {
    kube,
    mongo,
    rabbit,
    redis,
    metrics,
    marketplaces,
    companies,
    elector,
    port,
    ready,
    stop,
  };
}
