// W3C Trace Context where a trace crosses a boundary: HTTP request headers, AMQP message
// headers, and the outbox entry that holds an event until the relay publishes it (so a
// publish seconds later still continues the request that wrote it). A malformed or absent
// traceparent continues nothing: the work starts a new trace, and nothing fails. Also the
// trace ids every log line carries.
import {
  context,
  defaultTextMapSetter,
  isSpanContextValid,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const w3c = new W3CTraceContextPropagator();

/** The trace an outbox entry was written in, as the W3C headers it travels as. */
export interface TraceContextFields {
  traceparent: string;
  tracestate?: string;
}

/**
 * AMQP header values as amqplib decodes them: a long string arrives as a string, a byte
 * array as a Buffer; any other type is not a trace header.
 */
export const amqpHeaderGetter: TextMapGetter<Record<string, unknown> | undefined> = {
  keys: (headers) => Object.keys(headers ?? {}),
  get(headers, key) {
    const value = headers?.[key];
    if (typeof value === 'string') return value;
    if (Buffer.isBuffer(value)) return value.toString('latin1');
    return undefined;
  },
};

/** Node's request headers: lower-case names; a repeated header is joined, or an array. */
export const httpHeaderGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

export const headerSetter: TextMapSetter<Record<string, unknown>> = {
  set(headers, key, value) {
    headers[key] = value;
  },
};

/** `base` continuing the trace the carrier names; as it is when the carrier names none. */
export function continueTrace<C>(base: Context, carrier: C, getter: TextMapGetter<C>): Context {
  return w3c.extract(base, carrier, getter);
}

/** Writes the trace context of `ctx` into headers (nothing outside a trace). */
export function injectTrace(ctx: Context, headers: Record<string, unknown>): void {
  w3c.inject(ctx, headers, headerSetter);
}

/** The trace the work in progress belongs to, to store with what it writes; none outside one. */
export function currentTraceContext(
  ctx: Context = context.active(),
): TraceContextFields | undefined {
  const headers: Record<string, string> = {};
  w3c.inject(ctx, headers, defaultTextMapSetter);
  const { traceparent, tracestate } = headers;
  if (!traceparent) return undefined;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

/** What a log line without an active span adds (shared: pino is told not to merge it). */
export const NO_TRACE: Readonly<Record<string, never>> = Object.freeze({});

/**
 * pino's `mixin`: the active span's ids as `trace_id` and `span_id`, or NO_TRACE outside
 * any span — a lookup in the context and, inside one, one small object per line.
 */
export function traceLogFields(ctx: Context = context.active()): Record<string, string> {
  const span = trace.getSpan(ctx);
  if (!span) return NO_TRACE;
  const ids = span.spanContext();
  if (!isSpanContextValid(ids)) return NO_TRACE;
  return { trace_id: ids.traceId, span_id: ids.spanId };
}

/** pino's `mixinMergeStrategy` for traceLogFields: the line's own fields win. */
export function mergeTraceLogFields(line: object, fields: object): object {
  return fields === NO_TRACE ? line : Object.assign(fields, line);
}
