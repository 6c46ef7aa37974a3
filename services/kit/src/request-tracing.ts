// A SERVER span per request, named `<METHOD> <route template>` once the router has matched
// (the method alone when nothing matched), continuing the caller's trace from its W3C
// traceparent/tracestate headers — a malformed one starts a new trace and fails nothing.
// The answer names its trace in a `traceresponse` header (W3C Trace Context Level 2), for
// a client or a support request to quote. Health, readiness, metrics and the OpenAPI
// document are not traced: probes and scrapes would bury the requests. Outermost, so
// every log line of the request carries its ids.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Middleware } from 'koa';
import { continueTrace, httpHeaderGetter } from './trace-context.js';
import type { Tracing } from './tracing.js';

/** The kit's own endpoints, served to probes and scrapers. */
export const UNTRACED_PATHS: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
]);

export function traceRequests(tracing: Tracing, knownMethods: readonly string[]): Middleware {
  const known = new Set(knownMethods);
  return async (ctx, next) => {
    if (UNTRACED_PATHS.has(ctx.path)) {
      await next();
      return;
    }
    const parent = continueTrace(tracing.bind(ROOT_CONTEXT), ctx.req.headers, httpHeaderGetter);
    const method = known.has(ctx.method) ? ctx.method : '_OTHER';
    const span = tracing.tracer.startSpan(
      method === '_OTHER' ? 'HTTP' : method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_URL_PATH]: ctx.path,
          [ATTR_URL_SCHEME]: ctx.protocol,
          ...(method === '_OTHER' ? { [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: ctx.method } : {}),
        },
      },
      parent,
    );
    const ids = span.spanContext();
    ctx.set('traceresponse', `00-${ids.traceId}-${ids.spanId}-0${ids.traceFlags & 1}`);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute;
      if (route !== undefined) {
        span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, ctx.status);
      // A 4xx is the client's doing: the server span failed only with a 5xx.
      if (ctx.status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(ctx.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
  };
}
