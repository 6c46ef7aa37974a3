// Starting and stopping a whole service the same way everywhere: parse the environment,
// start tracing, open the read cache (Redis, with REDIS_URL), connect MongoDB (indexes)
// and RabbitMQ, build the app from the routes, start the outbox relay and consumers,
// listen, and on close undo it all in reverse order (tracing last: it exports what the
// rest recorded, within a deadline).
// main.ts calls it with process.env; tests call it with a tenant of their own on port 0.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { apiRouter, type Route } from './api.js';
import { openApiDocument, type ApiInfo } from './openapi.js';
import { createServiceApp } from './app.js';
import { parseEnv, type ServiceEnv } from './config.js';
import { createLogger } from './logger.js';
import { Consumer, pruneProcessedMessages, type EventHandler } from './messaging/consumer.js';
import { noOutbox, OutboxRelay, type Outbox, type WithOutbox } from './messaging/outbox.js';
import { outboxAgeGauge } from './messaging/outbox-age.js';
import { Publisher } from './messaging/publisher.js';
import { queueGauges } from './messaging/queue-metrics.js';
import { ServiceMetrics } from './metrics.js';
import { everyInterval, RETENTION_SWEEP_MS, type PeriodicTask } from './periodic.js';
import { connectMongo, type CollectionIndexes } from './mongo.js';
import { openReadCache, type ReadCache } from './cache.js';
import { DependencyMetrics } from './resilience.js';
import { serve } from './server.js';
import { startTracing, type Tracing } from './tracing.js';

/** What every service's dependencies are built from. */
export interface ServiceBase<E extends ServiceEnv> {
  env: E;
  log: Logger;
  db: Db;
  metrics: ServiceMetrics;
  dependencyMetrics: DependencyMetrics;
  publisher: Publisher;
  /** Where writers announce outbox entries: the service's relay, or nothing without one. */
  outbox: Outbox;
  /** The read cache in Redis (REDIS_URL); without it, every read goes to the database. */
  cache: ReadCache;
}

export interface ConsumerSpec {
  /** Dedupe records are per consumer name. */
  name: string;
  queue: string;
  handle: EventHandler;
  prefetch?: number;
}

export interface ServiceDefinition<E extends ServiceEnv, Deps> {
  info: ApiInfo;
  env: z.ZodType<E>;
  indexes: readonly CollectionIndexes[];
  routes: readonly Route<Deps>[];
  /** Collections whose documents carry an `outbox` the relay publishes. */
  outboxCollections?: readonly string[];
  /**
   * How often the relay scans those collections whole (default OUTBOX_SWEEP_MS, 1 s).
   * Events whose writer calls `outbox.announce` go out at once anyway, so a service
   * whose writers all announce can sweep rarely: the sweep then only catches what a crash
   * or another process left behind.
   */
  outboxSweepMs?: number;
  deps: (base: ServiceBase<E>) => Deps;
  consumers?: (deps: Deps) => ConsumerSpec[];
  periodic?: (deps: Deps) => PeriodicTask[];
  /** Runs once after connecting, before listening (seeding a first admin). */
  onStart?: (deps: Deps) => Promise<void>;
}

export interface StartOptions {
  /** Log destination (tests capture logs); stdout by default. */
  logDestination?: NodeJS.WritableStream;
  /** Check answers against their schemas (tests). */
  checkResponses?: boolean;
  /** Overrides the definition's `outboxSweepMs` (tests sweep often). */
  outboxIntervalMs?: number;
}

export interface RunningService<Deps> {
  port: number;
  url: string;
  deps: Deps;
  relay: OutboxRelay;
  log: Logger;
  tracing: Tracing;
  close: () => Promise<void>;
}

export function openApiFor(definition: {
  info: ApiInfo;
  routes: readonly Route<never>[];
}): Record<string, unknown> {
  return openApiDocument(definition.info, definition.routes);
}

export async function startService<E extends ServiceEnv, Deps>(
  definition: ServiceDefinition<E, Deps>,
  environment: NodeJS.ProcessEnv,
  opts: StartOptions = {},
): Promise<RunningService<Deps>> {
  const env = parseEnv(definition.env, environment);
  const log = createLogger(env.SERVICE, env.LOG_LEVEL, opts.logDestination);
  const metrics = new ServiceMetrics(env.SERVICE, env.MARKETPLACE);
  const dependencyMetrics = new DependencyMetrics(metrics.registry);
  const tracing = startTracing({
    service: env.SERVICE,
    env: environment,
    attributes: { 'gorten.marketplace': environment.MARKETPLACE },
    registry: metrics.registry,
    log,
  });
  let cache: ReadCache;
  try {
    cache = openReadCache(env, log, metrics.registry, dependencyMetrics);
  } catch (err) {
    await tracing.shutdown();
    throw err;
  }
  const mongo = await connectMongo(env.MONGODB_URI, definition.indexes, tracing).catch(
    async (err: unknown) => {
      await cache.close();
      await tracing.shutdown();
      throw err;
    },
  );
  const publisher = new Publisher(env.AMQP_URL, log, tracing);
  const outboxCollections = (definition.outboxCollections ?? []).map((name) =>
    mongo.db.collection<WithOutbox>(name),
  );
  const relay = new OutboxRelay(
    outboxCollections,
    publisher,
    log,
    opts.outboxIntervalMs ?? definition.outboxSweepMs,
  );
  const outbox = outboxCollections.length > 0 ? relay : noOutbox;
  const deps = definition.deps({
    env,
    log,
    db: mongo.db,
    metrics,
    dependencyMetrics,
    publisher,
    outbox,
    cache,
  });

  const consumers = (definition.consumers?.(deps) ?? []).map(
    (spec) =>
      new Consumer(
        env.AMQP_URL,
        mongo.db,
        { name: spec.name, queue: spec.queue, prefetch: spec.prefetch },
        spec.handle,
        publisher,
        log,
        tracing,
      ),
  );
  queueGauges(metrics.registry, consumers, log);
  outboxAgeGauge(metrics.registry, outboxCollections, log);
  const app = createServiceApp({
    log,
    metrics,
    corsOrigins: env.CORS_ORIGINS,
    bodyLimitKb: env.BODY_LIMIT_KB,
    readiness: { mongodb: mongo.ready, rabbitmq: () => publisher.ready() },
    routers: [
      apiRouter(definition.routes, deps, {
        auth: { publicKey: env.JWT_PUBLIC_KEY, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE },
        checkResponses: opts.checkResponses,
      }),
    ],
    openApi: openApiFor(definition),
    tracing,
  });

  const tasks = [...(definition.periodic?.(deps) ?? [])];
  if (consumers.length > 0)
    tasks.push({
      name: 'processed-messages-retention',
      everyMs: RETENTION_SWEEP_MS,
      run: async () => {
        const before = new Date(Date.now() - env.PROCESSED_MESSAGE_RETENTION_MS);
        await pruneProcessedMessages(mongo.db, before);
      },
    });
  // A task's spans belong to this service (they start traces of their own).
  const schedules = tasks.map((task) =>
    everyInterval(
      { ...task, run: () => context.with(tracing.bind(ROOT_CONTEXT), task.run) },
      (err) => log.warn({ err, task: task.name }, 'periodic task failed'),
    ),
  );
  const stopMessaging = async (): Promise<void> => {
    await Promise.all(schedules.map((s) => s.stop()));
    await relay.stop();
    await Promise.all(consumers.map((c) => c.stop()));
    await publisher.close();
    await cache.close();
  };
  try {
    await definition.onStart?.(deps);
    for (const consumer of consumers) await consumer.start();
    if (outboxCollections.length > 0) relay.start();
  } catch (err) {
    await stopMessaging();
    await mongo.close();
    await tracing.shutdown();
    throw err;
  }
  const stopAll = async (): Promise<void> => {
    try {
      await stopMessaging();
      await mongo.close();
    } finally {
      await tracing.shutdown();
    }
  };
  const server = await serve(app, {
    port: env.HTTP_PORT,
    host: env.HTTP_HOST,
    log,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    onClose: stopAll,
  }).catch(async (err: unknown) => {
    await stopAll();
    throw err;
  });
  log.info({ port: server.port }, 'listening');
  return {
    port: server.port,
    url: `http://127.0.0.1:${server.port}`,
    deps,
    relay,
    log,
    tracing,
    close: server.close,
  };
}

/** main.ts of every service: start from process.env and stop on SIGTERM / SIGINT. */
export function runMain<E extends ServiceEnv, Deps>(definition: ServiceDefinition<E, Deps>): void {
  startService(definition, process.env).then(
    (service) => {
      const stop = (signal: string): void => {
        service.log.info({ signal }, 'shutting down');
        service.close().then(
          () => process.exit(0),
          (err: unknown) => {
            service.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
    (err: unknown) => {
      // Before the logger exists (bad config) this is the only place to say why.
      process.stderr.write(`${definition.info.title} did not start: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
