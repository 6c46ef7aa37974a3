// The pure parts of tracing: what an environment turns it into (and how a bad OTEL_*
// value is named), the samplers, the W3C carriers of HTTP and AMQP headers and of the
// outbox entry, the log fields, and the MongoDB span of a command (never its values).
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ConfigError } from '../src/config.js';
import { operationSpan, serverOf } from '../src/mongo-tracing.js';
import {
  amqpHeaderGetter,
  continueTrace,
  currentTraceContext,
  httpHeaderGetter,
  injectTrace,
  mergeTraceLogFields,
  NO_TRACE,
  traceLogFields,
} from '../src/trace-context.js';
import { samplerFor, tracingSettings } from '../src/tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
const inSpan = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  traceFlags: TraceFlags.SAMPLED,
});

describe('tracing settings', () => {
  test('off without an endpoint, when disabled, or with no exporter; saying why', () => {
    expect(tracingSettings('catalog', {})).toEqual({
      enabled: false,
      why: 'no OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set',
    });
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' };
    expect(tracingSettings('catalog', { ...endpoint, OTEL_SDK_DISABLED: 'TRUE' })).toMatchObject({
      enabled: false,
      why: 'OTEL_SDK_DISABLED=true',
    });
    expect(tracingSettings('catalog', { ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toMatchObject(
      { enabled: false, why: 'OTEL_TRACES_EXPORTER=none' },
    );
  });

  test('the general endpoint gets /v1/traces; the traces endpoint is used as it is', () => {
    const general = tracingSettings('catalog', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318/' });
    expect(general).toMatchObject({ enabled: true, url: 'http://j:4318/v1/traces' });
    const specific = tracingSettings('catalog', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom',
    });
    expect(specific).toMatchObject({ url: 'http://collector:4318/custom' });
  });

  test('defaults: parent-based always-on, service.name from SERVICE, the specification’s batch', () => {
    expect(tracingSettings('catalog', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318' })).toEqual({
      enabled: true,
      url: 'http://j:4318/v1/traces',
      sampler: { name: 'parentbased_always_on', ratio: 1 },
      serviceName: 'catalog',
      resource: {},
      exportTimeoutMs: 10_000,
      batch: {
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 5000,
        exportTimeoutMillis: 30_000,
      },
    });
  });

  test('OTEL_* set and empty count as unset; a batch is never larger than the queue', () => {
    const settings = tracingSettings('orders', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318',
      OTEL_TRACES_SAMPLER: '',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_SERVICE_NAME: 'orders-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
    });
    expect(settings).toMatchObject({
      sampler: { name: 'parentbased_always_on' },
      serviceName: 'orders-eu',
      resource: { 'deployment.environment.name': 'staging' },
      batch: { maxQueueSize: 100, maxExportBatchSize: 100 },
    });
  });

  test('bad values stop the start naming each variable, never its value', () => {
    let error: unknown;
    try {
      tracingSettings('catalog', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318',
        OTEL_TRACES_SAMPLER: 'jaeger_remote',
        OTEL_TRACES_SAMPLER_ARG: '1.5',
        OTEL_BSP_MAX_QUEUE_SIZE: 'many',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_BSP_MAX_QUEUE_SIZE',
    ])
      expect(message).toContain(name);
    expect(message).not.toContain('jaeger:4318');
  });

  test('sampler names map to the SDK’s samplers, the ratio to the root of a parent-based one', () => {
    expect(samplerFor({ name: 'always_off', ratio: 1 }).toString()).toBe('AlwaysOffSampler');
    expect(samplerFor({ name: 'traceidratio', ratio: 0.25 }).toString()).toBe(
      'TraceIdRatioBased{0.25}',
    );
    expect(samplerFor({ name: 'parentbased_traceidratio', ratio: 0.1 }).toString()).toMatch(
      /^ParentBased\{root=TraceIdRatioBased\{0.1\}/,
    );
    expect(samplerFor({ name: 'parentbased_always_on', ratio: 1 }).toString()).toMatch(
      /^ParentBased\{root=AlwaysOnSampler/,
    );
  });
});

describe('trace context across boundaries', () => {
  test('AMQP headers: text and bytes are read; any other type is no header', () => {
    const headers = { a: 'text', b: Buffer.from('bytes'), c: 42, d: null };
    expect(amqpHeaderGetter.get(headers, 'a')).toBe('text');
    expect(amqpHeaderGetter.get(headers, 'b')).toBe('bytes');
    expect(amqpHeaderGetter.get(headers, 'c')).toBeUndefined();
    expect(amqpHeaderGetter.get(headers, 'd')).toBeUndefined();
    expect(amqpHeaderGetter.get(undefined, 'a')).toBeUndefined();
    expect(amqpHeaderGetter.keys(headers)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('a well-formed traceparent is continued as a remote parent, from HTTP or AMQP headers', () => {
    for (const ctx of [
      continueTrace(ROOT_CONTEXT, { traceparent: TRACEPARENT }, httpHeaderGetter),
      continueTrace(ROOT_CONTEXT, { traceparent: Buffer.from(TRACEPARENT) }, amqpHeaderGetter),
    ])
      expect(trace.getSpanContext(ctx)).toMatchObject({
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        isRemote: true,
      });
  });

  test.each([
    ['garbage', 'garbage'],
    ['a zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['a zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['a short parent id', `00-${TRACE_ID}-${SPAN_ID.slice(1)}-01`],
    ['several, joined', `${TRACEPARENT}, ${TRACEPARENT}`],
  ])('a malformed traceparent (%s) leaves the context as it was: a new trace', (_, value) => {
    const ctx = continueTrace(ROOT_CONTEXT, { traceparent: value }, httpHeaderGetter);
    expect(ctx).toBe(ROOT_CONTEXT);
  });

  test('what an outbox entry stores is what the relay continues', () => {
    expect(currentTraceContext(ROOT_CONTEXT)).toBeUndefined();
    const stored = currentTraceContext(inSpan);
    expect(stored).toEqual({ traceparent: TRACEPARENT });
    const headers: Record<string, unknown> = {};
    injectTrace(inSpan, headers);
    expect(headers).toEqual({ traceparent: TRACEPARENT });
  });
});

describe('log lines', () => {
  test('carry the active span’s ids, and nothing outside a span', () => {
    expect(traceLogFields(inSpan)).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(traceLogFields(ROOT_CONTEXT)).toBe(NO_TRACE);
  });

  test('their own fields win, and a line outside a span is left as it is', () => {
    const line = { msg: 'x', trace_id: 'mine' };
    expect(mergeTraceLogFields(line, NO_TRACE)).toBe(line);
    expect(mergeTraceLogFields(line, { trace_id: TRACE_ID, span_id: SPAN_ID })).toEqual({
      msg: 'x',
      trace_id: 'mine',
      span_id: SPAN_ID,
    });
  });
});

describe('MongoDB operation spans', () => {
  test('are named by operation and collection, with the server, and no value of the call', () => {
    expect(
      operationSpan('mp_acme', 'products', 'findOneAndUpdate', serverOf('127.0.0.1:27017')),
    ).toEqual({
      name: 'findOneAndUpdate products',
      attributes: {
        'db.system.name': 'mongodb',
        'db.operation.name': 'findOneAndUpdate',
        'db.namespace': 'mp_acme',
        'db.collection.name': 'products',
        'server.address': '127.0.0.1',
        'server.port': 27017,
      },
    });
  });

  test('a server is its seed: an IPv6 literal without brackets, a port only when one is given', () => {
    expect(serverOf('[::1]:27017')).toEqual({ host: '::1', port: 27017 });
    expect(serverOf('db.example')).toEqual({ host: 'db.example' });
    expect(operationSpan('mp_acme', 'orders', 'find').attributes).not.toHaveProperty(
      'server.address',
    );
  });
});
