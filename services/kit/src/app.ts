// The Koa application every service is: a span per request (when tracing), request
// context, problem+json errors, metrics, security headers, CORS, a size-limited JSON body
// parser, health endpoints, then the service's own routes. Building it does no I/O, so
// tests build it freely.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { requestContext, type RequestState } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { badRequest, Problem, problemFor } from './problem.js';
import { traceRequests } from './request-tracing.js';
import { corsFor, securityHeaders } from './security.js';
import type { Tracing } from './tracing.js';

/**
 * The methods HTTP itself defines (RFC 9110 §9.3, PATCH from RFC 5789, and the IETF's
 * QUERY, a safe method with a body): the service knows each, so on a path that does not
 * allow one it answers 405 with Allow (§15.5.6) — TRACE and QUERY too, which no resource
 * here allows. Any other method (WebDAV's PROPFIND, …) it implements for no resource:
 * 501 on every path (§9.1, §15.6.2).
 */
export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
] as const;

/** What the routers leave unanswered: the problem each becomes. */
const UNROUTED: Record<number, { title: string; detail: string }> = {
  404: { title: 'Not Found', detail: 'No such route.' },
  405: {
    title: 'Method Not Allowed',
    detail: 'This resource does not allow the method; Allow lists those it does.',
  },
  501: { title: 'Not Implemented', detail: 'The service implements this method for no resource.' },
};

/** A dependency the service cannot serve without; /readyz fails while one fails. */
export type ReadinessCheck = () => Promise<void>;

export interface ServiceAppOptions {
  log: Logger;
  metrics: ServiceMetrics;
  corsOrigins: readonly string[];
  bodyLimitKb: number;
  readiness: Record<string, ReadinessCheck>;
  routers: Router<RequestState>[];
  /** How long one readiness check may take. */
  readinessTimeoutMs?: number;
  /** The service's OpenAPI document, served at /openapi.json. */
  openApi?: Record<string, unknown>;
  /** A SERVER span per request when it is enabled. */
  tracing?: Tracing;
}

async function failingChecks(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<string[]> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('timed out')), timeoutMs).unref(),
          ),
        ]);
        return undefined;
      } catch (err) {
        return `${name}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

export function createServiceApp(opts: ServiceAppOptions): Koa<RequestState> {
  const app = new Koa<RequestState>();
  // Behind Kong, which appends the address it saw to the X-Forwarded-For the client sent:
  // only that last entry is trusted. Koa's default takes the first, which the client writes.
  app.proxy = true;
  app.maxIpsCount = 1;

  const health = new Router();
  health.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  health.get('/readyz', async (ctx) => {
    const failing = await failingChecks(opts.readiness, opts.readinessTimeoutMs ?? 2_000);
    if (failing.length === 0) {
      ctx.body = { status: 'ready' };
      return;
    }
    opts.log.warn({ failing }, 'not ready');
    ctx.status = 503;
    ctx.type = 'application/problem+json';
    ctx.body = {
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'A dependency does not answer.',
      failing,
    };
  });
  const openApi = opts.openApi;
  if (openApi) {
    health.get('/openapi.json', (ctx) => {
      ctx.set('Cache-Control', 'public, max-age=300');
      ctx.body = openApi;
    });
  }
  health.get('/metrics', async (ctx) => {
    ctx.type = opts.metrics.registry.contentType;
    ctx.body = await opts.metrics.registry.metrics();
  });

  if (opts.tracing?.enabled) app.use(traceRequests(opts.tracing, HTTP_METHODS));
  app.use(requestContext(opts.log));
  // Outside the error handler, so they see (and decorate) the answer the client really gets.
  app.use(opts.metrics.middleware());
  app.use(securityHeaders());
  app.use(corsFor(opts.corsOrigins));
  app.use(async (ctx, next) => {
    try {
      await next();
      const unrouted = ctx.body === undefined ? UNROUTED[ctx.status] : undefined;
      if (unrouted) {
        if (ctx.status === 501) ctx.remove('Allow'); // no method is implemented "instead"
        throw new Problem(ctx.status, unrouted.title, unrouted.detail);
      }
    } catch (err) {
      const { document, unexpected, headers } = problemFor(err, ctx.path);
      if (unexpected) {
        const what = document.status === 503 ? 'dependency unavailable' : 'unexpected error';
        ctx.state.log.error({ err }, what);
      }
      ctx.status = document.status;
      if (headers) ctx.set(headers);
      ctx.type = 'application/problem+json';
      ctx.body = document;
    }
  });
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: `${opts.bodyLimitKb}kb`,
      encoding: 'utf-8',
      onError: (err) => {
        if ((err as { status?: number }).status === 413) throw err;
        throw badRequest('The request body is not valid JSON.');
      },
    }),
  );
  app.use(health.routes());
  for (const router of opts.routers) app.use(router.routes());
  // Last: every router has left in ctx.matched the routes whose path matched, so one
  // check answers 405 + Allow or 501 (as a bare status the error handler dresses).
  app.use(new Router({ methods: [...HTTP_METHODS] }).allowedMethods());
  return app;
}
