// JSON logs with a request id on every line, the trace and span ids of the work in
// progress (trace-context.ts), and secrets redacted wherever they appear.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { pino, type Logger } from 'pino';
import { mergeTraceLogFields, traceLogFields } from './trace-context.js';

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.privateKey',
  'password',
  'token',
  'refreshToken',
];

export function createLogger(
  service: string,
  level: string,
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    level,
    base: { service },
    redact: { paths: REDACT, censor: '[redacted]' },
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

/** Takes a well-formed X-Request-Id or makes one; logs one line per request. */
export function requestContext(log: Logger): Middleware<RequestState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = log.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? '<unmatched>';
      ctx.state.log.info(
        {
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
