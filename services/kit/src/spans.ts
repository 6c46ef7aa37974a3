// Work as a span, the one way the services make their own: begun in the active context
// (so it nests under the request or delivery it is part of), ended however the work ends;
// a failure is recorded on it (status ERROR, error.type, the exception event) and rethrown.
import { SpanStatusCode, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';

/** Marks a span failed by `err`. */
export function recordFailure(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setAttribute(ATTR_ERROR_TYPE, error.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** Runs `work` inside a new active span named `name`. */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  work: (span: Span) => Promise<T>,
  options: SpanOptions = {},
): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `work` as a function whose every call is a span named `name`. */
export function spanned<A extends unknown[], R>(
  tracer: Tracer,
  name: string,
  work: (...args: A) => Promise<R>,
  options: SpanOptions = {},
): (...args: A) => Promise<R> {
  return (...args) => inSpan(tracer, name, () => work(...args), options);
}
