// JSON logs with a request id on every line, the trace and span ids of the work in
// progress (trace-context.ts), and secrets redacted wherever they appear (redaction.ts).
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { pino, type Logger } from 'pino';
import { redactSecrets } from './redaction.js';
import { mergeTraceLogFields, traceLogFields } from './trace-context.js';

export function createLogger(
  service: string,
  level: string,
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    level,
    base: { service },
    // Every line's fields; a child's bindings are not passed through formatters (pino
    // serializes them once), so children bind ids, never secrets.
    formatters: { log: redactSecrets },
    mixin: () => traceLogFields(),
    mixinMergeStrategy: mergeTraceLogFields,
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface RequestState {
  requestId: string;
  log: Logger;
}

/**
 * Takes a well-formed X-Request-Id or makes one; logs one line per request. The request's
 * logger (a child carrying its id) is made when code first asks for it, so a request
 * that logs nothing but its line (a probe) makes none.
 */
export function requestContext(log: Logger): Middleware<RequestState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    let requestLog: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (requestLog ??= log.child({ requestId })),
      enumerable: true,
      configurable: true,
    });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? '<unmatched>';
      (requestLog ?? log).info(
        {
          ...(requestLog ? {} : { requestId }),
          method: ctx.method,
          route,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    }
  };
}
