// The operator's spans, through @opentelemetry/api only: a span `reconcile <Kind>` per
// reconcile with a child per plane. Whoever starts the process registers an SDK (the
// kit's startTracing); without one every span here is the API's no-op and costs nothing.
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export const tracer = trace.getTracer('gorten-operator');

/** Marks `span` failed: status ERROR with `message`, and `err` recorded when it is an Error. */
export function markFailed(span: Span, message: string, err?: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** The attributes naming the object a reconcile is about, from its work-queue key. */
export function objectAttributes(kind: string, key: string): Attributes {
  const slash = key.indexOf('/');
  return slash < 0
    ? { 'gorten.object.kind': kind, 'gorten.object.name': key }
    : {
        'gorten.object.kind': kind,
        'k8s.namespace.name': key.slice(0, slash),
        'gorten.object.name': key.slice(slash + 1),
      };
}
