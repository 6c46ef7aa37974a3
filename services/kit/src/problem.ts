// Errors as RFC 9457 problem details. Code throws a Problem for what the client did
// wrong; a dependency away or overloaded (dependency.ts) is a 503 with Retry-After; anything
// else is a bug and leaves the service as a generic 500. Neither shows its cause; both are logged.
import { isDependencyFailure } from './dependency.js';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export class Problem extends Error {
  override name = 'Problem';
  /** Response headers that belong to this answer (Retry-After, WWW-Authenticate). */
  headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly type = 'about:blank',
  ) {
    super(detail ?? title);
  }
}

export const badRequest = (detail: string, extensions?: Record<string, unknown>) =>
  new Problem(400, 'Bad Request', detail, extensions);
export const unauthorized = (detail = 'A valid access token is required.') =>
  new Problem(401, 'Unauthorized', detail);
export const forbidden = (detail = 'You may not do this.') => new Problem(403, 'Forbidden', detail);
export const notFound = (detail = 'No such resource.') => new Problem(404, 'Not Found', detail);
export const conflict = (detail: string, extensions?: Record<string, unknown>) =>
  new Problem(409, 'Conflict', detail, extensions);
export const unprocessable = (detail: string, extensions?: Record<string, unknown>) =>
  new Problem(422, 'Unprocessable Content', detail, extensions);

export const tooManyRequests = (detail: string, retryAfterSeconds: number) => {
  const problem = new Problem(429, 'Too Many Requests', detail, { retryAfter: retryAfterSeconds });
  problem.headers['Retry-After'] = String(retryAfterSeconds);
  return problem;
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
};

/** How long a client waits before sending again a request a dependency could not serve. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 2;

/**
 * The answer for any error. Problems speak for themselves; errors of Koa's own
 * middleware (body parser, koa-jwt) carry a client status and a safe message; a
 * dependency that is away, overloaded or timed out (the database's pool or server
 * selection, a policy's bulkhead, breaker or timeout) is a 503 with Retry-After — the
 * request may simply be sent again; the rest is a generic 500. Neither reveals its cause,
 * and both are `unexpected`: the caller logs the error.
 */
export function problemFor(
  err: unknown,
  instance?: string,
): { document: ProblemDocument; unexpected: boolean; headers?: Record<string, string> } {
  if (err instanceof Problem) {
    const document: ProblemDocument = {
      ...err.extensions,
      type: err.type,
      title: err.title,
      status: err.status,
      instance,
    };
    if (err.detail) document.detail = err.detail;
    return { document, unexpected: false, headers: err.headers };
  }
  const status = (err as { status?: unknown }).status;
  const expose = (err as { expose?: unknown }).expose;
  if (
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    (expose === true || status === 401)
  ) {
    const detail = status === 401 ? 'A valid access token is required.' : (err as Error).message;
    return {
      document: {
        type: 'about:blank',
        title: TITLES[status] ?? 'Client Error',
        status,
        detail,
        instance,
      },
      unexpected: false,
    };
  }
  if (isDependencyFailure(err))
    return {
      document: {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail:
          'A service this one needs is unavailable or overloaded; send the request again shortly.',
        reason: 'dependency_unavailable',
        instance,
      },
      unexpected: true,
      headers: { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS) },
    };
  return {
    document: {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'Something went wrong on our side.',
      instance,
    },
    unexpected: true,
  };
}
