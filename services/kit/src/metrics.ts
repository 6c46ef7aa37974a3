// Prometheus metrics: Node's defaults and request durations by route template — never by
// raw path, whose ids would make the label set unbounded —, every series labelled with
// its service and, in a tenant, its marketplace. Gauges of figures that live elsewhere
// (queue depths, outbox ages, orders by status) are read at each scrape, with a deadline:
// a dependency that hangs costs that scrape the series, never the scrape.
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Histogram, Registry, type LabelValues } from 'prom-client';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** `marketplace`: the tenant's Marketplace (env MARKETPLACE); unset, no such label. */
  constructor(service: string, marketplace?: string) {
    this.registry.setDefaultLabels({ service, ...(marketplace ? { marketplace } : {}) });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Each method, route template and status's histogram, looked up once (bounded like them). */
  private readonly byLabels = new Map<
    string,
    Histogram.Internal<'method' | 'route' | 'status_code'>
  >();

  /** Records one request's duration (seconds) under its method, route template and status. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let series = this.byLabels.get(key);
    if (!series) {
      series = this.requestDuration.labels({ method, route, status_code: String(status) });
      this.byLabels.set(key, series);
    }
    series.observe(seconds);
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? '<unmatched>';
        this.observeRequest(ctx.method, route, ctx.status, (performance.now() - started) / 1000);
      }
    };
  }
}

/** The longest a scrape waits for a figure it reads elsewhere (a queue's depth, a count). */
export const SCRAPE_READ_TIMEOUT_MS = 2_000;

/** `read()`, or a rejection once `timeoutMs` passed. */
export async function withDeadline<T>(
  read: () => Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a gauge read at scrape time is, and how its series are read. */
export interface ScrapedGauge<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** The series now: their labels and values. What it leaves out has no sample this scrape. */
  read: () => Promise<Iterable<readonly [LabelValues<L>, number]>>;
}

/**
 * A gauge whose series `read` gives at each scrape, within SCRAPE_READ_TIMEOUT_MS. When it
 * fails or takes longer, the gauge has no sample in that scrape rather than a stale one
 * (an alert on it then sees the series absent, not a figure from before).
 */
export function gaugeReadAtScrape<L extends string>(
  registry: Registry,
  spec: ScrapedGauge<L>,
  log: Pick<Logger, 'debug'>,
): Gauge<L> {
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    async collect() {
      try {
        const series = await withDeadline(spec.read, SCRAPE_READ_TIMEOUT_MS, spec.name);
        this.reset();
        for (const [labels, value] of series) this.set(labels, value);
      } catch (err) {
        this.reset();
        log.debug({ err, metric: spec.name }, 'figure unknown at this scrape');
      }
    },
  });
}
