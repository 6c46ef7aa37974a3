// Prometheus metrics: Node's defaults and request durations by route template — never by
// raw path, whose ids would make the label set unbounded.
import type { Middleware } from 'koa';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  middleware(): Middleware {
    return async (ctx, next) => {
      const stop = this.requestDuration.startTimer({ method: ctx.method });
      try {
        await next();
      } finally {
        const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? '<unmatched>';
        stop({ route, status_code: String(ctx.status) });
      }
    };
  }
}
