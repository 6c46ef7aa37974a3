// Tracing for a Gorten process: OpenTelemetry's SDK exporting over OTLP/HTTP, set up from
// the standard OTEL_* variables of the environment the process was started with. Code
// makes spans through @opentelemetry/api only. Several services may share one process
// (the tests run them in-process): each has a tracer provider of its own, with its own
// service.name, and the process-wide provider hands a new span to the provider of the
// service whose work is running — the kit binds it into the context where that work
// begins (a request, a delivery, a periodic task). Export is batched from a bounded queue:
// with the collector away, spans are dropped and counted, never buffered without bound.
import {
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, parseKeyPairsIntoRecord, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider as SdkTracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { parseEnv } from './config.js';

/** The kit's own instrumentation scope (requests, MongoDB operations, messages). */
export const KIT_SCOPE = '@gorten/kit';

// OTEL_* values that are set but empty count as unset (the specification says so).
const optional = <S extends z.ZodType>(schema: S) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema);
const millis = z.coerce.number().int().min(1).max(600_000);
const count = z.coerce.number().int().min(1).max(1_000_000);
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' });

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** The OTEL_* variables tracing honours; each is checked, and a bad one named. */
export const tracingEnv = z.object({
  OTEL_SDK_DISABLED: optional(z.string().optional()).transform((v) => v?.toLowerCase() === 'true'),
  OTEL_TRACES_EXPORTER: optional(z.enum(['otlp', 'none']).default('otlp')),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(httpUrl.optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(httpUrl.optional()),
  OTEL_EXPORTER_OTLP_TIMEOUT: optional(millis.default(10_000)),
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: optional(millis.optional()),
  OTEL_TRACES_SAMPLER: optional(z.enum(SAMPLERS).default('parentbased_always_on')),
  OTEL_TRACES_SAMPLER_ARG: optional(z.coerce.number().min(0).max(1).optional()),
  OTEL_BSP_SCHEDULE_DELAY: optional(millis.default(5_000)),
  OTEL_BSP_EXPORT_TIMEOUT: optional(millis.default(30_000)),
  OTEL_BSP_MAX_QUEUE_SIZE: optional(count.default(2_048)),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: optional(count.default(512)),
  OTEL_SERVICE_NAME: optional(z.string().optional()),
  OTEL_RESOURCE_ATTRIBUTES: optional(z.string().optional()),
});

export type TracingSettings =
  | { enabled: false; why: string }
  | {
      enabled: true;
      /** Where spans are POSTed (…/v1/traces). */
      url: string;
      sampler: { name: SamplerName; ratio: number };
      serviceName: string;
      resource: Record<string, string>;
      exportTimeoutMs: number;
      batch: {
        maxQueueSize: number;
        maxExportBatchSize: number;
        scheduledDelayMillis: number;
        exportTimeoutMillis: number;
      };
    };

/**
 * What tracing does with this environment. Off when OTEL_SDK_DISABLED=true,
 * OTEL_TRACES_EXPORTER=none, or no endpoint is set at all (nothing to send spans to).
 * The traces endpoint is used as it is; the general one gets `/v1/traces` appended.
 */
export function tracingSettings(service: string, environment: NodeJS.ProcessEnv): TracingSettings {
  const env = parseEnv(tracingEnv, environment);
  if (env.OTEL_SDK_DISABLED) return { enabled: false, why: 'OTEL_SDK_DISABLED=true' };
  if (env.OTEL_TRACES_EXPORTER === 'none')
    return { enabled: false, why: 'OTEL_TRACES_EXPORTER=none' };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  if (url === undefined)
    return { enabled: false, why: 'no OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set' };
  const maxQueueSize = env.OTEL_BSP_MAX_QUEUE_SIZE;
  return {
    enabled: true,
    url,
    sampler: { name: env.OTEL_TRACES_SAMPLER, ratio: env.OTEL_TRACES_SAMPLER_ARG ?? 1 },
    serviceName: env.OTEL_SERVICE_NAME ?? service,
    resource: parseKeyPairsIntoRecord(env.OTEL_RESOURCE_ATTRIBUTES),
    exportTimeoutMs: env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT,
    batch: {
      maxQueueSize,
      maxExportBatchSize: Math.min(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, maxQueueSize),
      scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: env.OTEL_BSP_EXPORT_TIMEOUT,
    },
  };
}

/** The sampler an OTEL_TRACES_SAMPLER name (and its ratio) stands for. */
export function samplerFor({ name, ratio }: { name: SamplerName; ratio: number }): Sampler {
  const root = name.endsWith('always_on')
    ? new AlwaysOnSampler()
    : name.endsWith('always_off')
      ? new AlwaysOffSampler()
      : new TraceIdRatioBasedSampler(ratio);
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/** The tracer provider of the service whose work runs in a context (see `Tracing.bind`). */
const SERVICE_PROVIDER = createContextKey('gorten: the tracer provider of the running service');

/** `startActiveSpan` in its three forms, for any way of starting a span. */
abstract class ActiveSpans implements Tracer {
  abstract startSpan(name: string, options?: SpanOptions, ctx?: Context): Span;

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const parent = args.length > 2 ? (args[1] as Context) : context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), () => fn(span) as ReturnType<F>);
  }
}

/**
 * The SDK's tracer, but a span's start attributes are set on the span once it is made
 * instead of passed to the SDK's startSpan, which checks them twice (each value with a
 * WeakSet of its own, @opentelemetry/core's isAnyValue) and copies them twice: that was 40 %
 * of all tracing allocated in the checkout service (bench/README.md, fourth round). Set on
 * the span, each is checked once and stored as it is. The samplers the kit makes
 * (samplerFor) read no attributes, so none misses them at the sampling decision.
 */
class LeanTracer extends ActiveSpans {
  constructor(private readonly sdk: Tracer) {
    super();
  }

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    const attributes = options?.attributes;
    if (attributes === undefined) return this.sdk.startSpan(name, options, ctx);
    const span = this.sdk.startSpan(name, { ...options, attributes: undefined }, ctx);
    if (span.isRecording()) span.setAttributes(attributes);
    return span;
  }
}

/** Records nothing; a span of it carries its parent's ids on (as the API's no-op does). */
class NoopTracer extends ActiveSpans {
  startSpan(_name: string, _options?: SpanOptions, ctx: Context = context.active()): Span {
    return trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT);
  }
}
const NOOP_TRACER = new NoopTracer();

/**
 * The process-wide tracer provider: a span goes to the provider bound into its context,
 * or — when nothing is bound — to the only service tracing in this process (a process of
 * one service, the operator), and nowhere when there are several or none.
 */
class ServiceRouter implements TracerProvider {
  readonly providers = new Set<TracerProvider>();

  getTracer(name: string, version?: string): Tracer {
    return new RoutedTracer(this, name, version);
  }

  providerIn(ctx: Context): TracerProvider | undefined {
    const bound = ctx.getValue(SERVICE_PROVIDER) as TracerProvider | undefined;
    if (bound) return bound;
    if (this.providers.size === 1) for (const only of this.providers) return only;
    return undefined;
  }
}

class RoutedTracer extends ActiveSpans {
  private readonly tracers = new WeakMap<TracerProvider, Tracer>();

  constructor(
    private readonly router: ServiceRouter,
    private readonly name: string,
    private readonly version?: string,
  ) {
    super();
  }

  private tracerIn(ctx: Context): Tracer {
    const provider = this.router.providerIn(ctx);
    if (!provider) return NOOP_TRACER;
    let tracer = this.tracers.get(provider);
    if (!tracer) {
      tracer = new LeanTracer(provider.getTracer(this.name, this.version));
      this.tracers.set(provider, tracer);
    }
    return tracer;
  }

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    return this.tracerIn(ctx).startSpan(name, options, ctx);
  }
}

let router: ServiceRouter | undefined;

/** Registers the context manager and the routing provider, once per process. */
function processRouter(log?: Logger): ServiceRouter {
  if (router) return router;
  router = new ServiceRouter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  if (!trace.setGlobalTracerProvider(router))
    log?.warn('another global tracer provider is registered; spans made through it bypass Gorten');
  return router;
}

/** What a service's work is traced with (the kit's entry points take it). */
export interface Tracing {
  readonly enabled: boolean;
  /** The service's own tracer (scope @gorten/kit), for the spans the kit makes. */
  readonly tracer: Tracer;
  /** `ctx` with this service as the owner of the spans begun in it through the API. */
  bind(ctx: Context): Context;
  /** Spans waiting for export now: never more than OTEL_BSP_MAX_QUEUE_SIZE. */
  queued(): number;
  /**
   * Registers gorten_trace_spans_dropped_total in `registry`, with what was dropped before
   * (for a process whose registry exists only after tracing began: the operator).
   */
  countDropsIn(registry: Registry): void;
  /** Exports what is queued now (a benchmark's round ends with its own spans sent). */
  flush(): Promise<void>;
  /** Exports what is queued (within the deadline) and stops; idempotent. */
  shutdown(): Promise<void>;
}

/** Tracing off: nothing is recorded, and entry points skip their work. */
export const NO_TRACING: Tracing = {
  enabled: false,
  tracer: NOOP_TRACER,
  bind: (ctx) => ctx,
  queued: () => 0,
  countDropsIn: (registry) => {
    droppedCounter(registry);
  },
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

export const SPANS_DROPPED = 'gorten_trace_spans_dropped_total';
export type DropReason = 'queue_full' | 'export_failed';

/**
 * The export queue's bound, kept in front of the BatchSpanProcessor (whose own queue has
 * the same size, so it never drops on its own): a span that finds the queue full is
 * counted as dropped instead. A span leaves the queue when the exporter takes its batch.
 */
class BoundedExport implements SpanProcessor {
  private waiting = 0;
  private failing = false;
  private readonly batch: BatchSpanProcessor;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly maxQueueSize: number,
    batch: Omit<ConstructorParameters<typeof BatchSpanProcessor>[0], 'exporter'>,
    private readonly dropped: (reason: DropReason, spans: number) => void,
    private readonly log?: Logger,
  ) {
    this.batch = new BatchSpanProcessor({
      ...batch,
      maxQueueSize,
      exporter: {
        export: (spans, done) => this.exportBatch(spans, done),
        shutdown: () => this.exporter.shutdown(),
        forceFlush: () => this.exporter.forceFlush?.() ?? Promise.resolve(),
      },
    });
  }

  queued(): number {
    return this.waiting;
  }

  onStart(): void {
    // nothing to do until a span ends
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.waiting >= this.maxQueueSize) {
      this.dropped('queue_full', 1);
      return;
    }
    this.waiting++;
    this.batch.onEnd(span);
  }

  private exportBatch(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.waiting -= spans.length;
    this.exporter.export(spans, (result) => {
      const failed = result.code !== ExportResultCode.SUCCESS;
      if (failed) this.dropped('export_failed', spans.length);
      if (failed !== this.failing) {
        this.failing = failed;
        if (failed)
          this.log?.warn(
            { err: result.error },
            `trace export failing: spans are dropped (counted in ${SPANS_DROPPED})`,
          );
        else this.log?.info('trace export works again');
      }
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.batch.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.batch.shutdown(); // flushes, then shuts the exporter down
  }
}

export interface TracingOptions {
  /** service.name (OTEL_SERVICE_NAME overrides it). */
  service: string;
  /** Where OTEL_* are read: the environment the process or service was started with. */
  env?: NodeJS.ProcessEnv;
  /** More resource attributes (e.g. the marketplace); unset values are left out. */
  attributes?: Record<string, string | undefined>;
  /** Where gorten_trace_spans_dropped_total is registered. */
  registry?: Registry;
  log?: Logger;
  /** How long shutdown may take to export what is queued (default 5 s). */
  shutdownDeadlineMs?: number;
}

function droppedCounter(registry: Registry): Counter<'reason'> {
  const counter = new Counter({
    name: SPANS_DROPPED,
    help: 'Spans not exported: the export queue was full, or the export failed',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['queue_full', 'export_failed'] as const) counter.inc({ reason }, 0);
  return counter;
}

/** Drops by reason, into a registry once there is one. */
class DropCount {
  private counter?: Counter<'reason'>;
  private readonly before: Record<DropReason, number> = { queue_full: 0, export_failed: 0 };

  add(reason: DropReason, spans: number): void {
    if (this.counter) this.counter.inc({ reason }, spans);
    else this.before[reason] += spans;
  }

  registerIn(registry: Registry): void {
    const counter = droppedCounter(registry);
    for (const [reason, spans] of Object.entries(this.before)) counter.inc({ reason }, spans);
    this.counter = counter;
  }
}

/**
 * Starts tracing for one service (or the operator) as its environment says; tracing off
 * gives NO_TRACING. Throws ConfigError naming a malformed OTEL_* variable.
 */
export function startTracing(opts: TracingOptions): Tracing {
  const settings = tracingSettings(opts.service, opts.env ?? process.env);
  if (!settings.enabled) {
    opts.log?.info(`tracing off: ${settings.why}`);
    if (opts.registry) NO_TRACING.countDropsIn(opts.registry);
    return NO_TRACING;
  }
  const drops = new DropCount();
  if (opts.registry) drops.registerIn(opts.registry);
  const routing = processRouter(opts.log);
  const exporter = new OTLPTraceExporter({
    url: settings.url,
    timeoutMillis: Math.min(settings.exportTimeoutMs, settings.batch.exportTimeoutMillis),
  });
  const bounded = new BoundedExport(
    exporter,
    settings.batch.maxQueueSize,
    settings.batch,
    (reason, spans) => {
      drops.add(reason, spans);
    },
    opts.log,
  );
  const attributes: Record<string, string> = { ...settings.resource };
  for (const [key, value] of Object.entries(opts.attributes ?? {}))
    if (value !== undefined) attributes[key] = value;
  attributes[ATTR_SERVICE_NAME] = settings.serviceName;
  const provider = new SdkTracerProvider({
    resource: resourceFromAttributes(attributes),
    sampler: samplerFor(settings.sampler),
    spanProcessors: [bounded],
  });
  routing.providers.add(provider);
  opts.log?.info(
    { endpoint: settings.url, sampler: settings.sampler.name, ratio: settings.sampler.ratio },
    'tracing on',
  );
  let stopped: Promise<void> | undefined;
  const deadlineMs = opts.shutdownDeadlineMs ?? 5_000;
  return {
    enabled: true,
    tracer: new LeanTracer(provider.getTracer(KIT_SCOPE)),
    bind: (ctx) => ctx.setValue(SERVICE_PROVIDER, provider),
    queued: () => bounded.queued(),
    countDropsIn: (registry) => {
      drops.registerIn(registry);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => {
      stopped ??= (async () => {
        routing.providers.delete(provider);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, deadlineMs);
          timer.unref();
        });
        await Promise.race([provider.shutdown().catch(() => undefined), deadline]);
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
