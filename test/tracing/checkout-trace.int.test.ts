// A checkout seen whole in Jaeger: one purchase through the gateway (npm start's, in front
// of every service of a test tenant, all in this process) gives Jaeger exactly one trace,
// from the HTTP request through the saga's steps, the stock and the payment provider, the
// relay's publish after the commit, the orders consumers, the orders relay and the email
// worker's send — each part under its own service name, every span of one trace id. And
// a malformed traceparent, on a request or on a message, is answered or consumed as
// usual and starts a new trace.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notificationsService } from '@gorten/notifications';
import { client, startTestService } from '@gorten/service-testing';
import {
  eventually,
  freePort,
  serviceOf,
  startJaeger,
  type Jaeger,
  type JaegerSpan,
  type JaegerTrace,
} from '@gorten/testenv';
import { startGateway } from '../../tools/start/src/gateway.js';
import { startMailCatcher } from '../../tools/start/src/mail.js';
import { startStack, type Stack } from '../api/stack.js';

let jaeger: Jaeger;
let stack: Stack;
let gatewayUrl: string;
const mailDir = mkdtempSync(join(tmpdir(), 'gorten-trace-mail-'));
/** What afterAll stops, newest first: whatever beforeAll got to start. */
const started: (() => Promise<unknown>)[] = [
  () => {
    rmSync(mailDir, { recursive: true, force: true });
    return Promise.resolve();
  },
];

beforeAll(async () => {
  jaeger = await startJaeger();
  started.push(() => jaeger.stop());
  // Spans leave every 100 ms: the test reads them a moment after the work.
  const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_BSP_SCHEDULE_DELAY: '100' };
  stack = await startStack({ label: 'traced', env: tracing });
  started.push(() => stack.close());
  const mail = await startMailCatcher(
    mailDir,
    () => undefined,
    (err) => {
      throw err;
    },
  );
  started.push(() => mail.close());
  const notifications = await startTestService(
    notificationsService,
    stack.tenant,
    'notifications',
    { ...tracing, SMTP_URL: `smtp://127.0.0.1:${mail.port}` },
  );
  started.push(() => notifications.close());
  const port = await freePort();
  const upstreams = new Map(
    Object.entries(stack.urls).map(([s, url]) => [s, Number(new URL(url).port)]),
  );
  const gateway: Server = await startGateway(port, upstreams, (err) => {
    throw err;
  });
  started.push(() => new Promise<void>((done) => gateway.close(() => done())));
  gatewayUrl = `http://127.0.0.1:${port}`;
}, 180_000);

afterAll(async () => {
  for (const stop of started.reverse()) await stop();
}, 60_000);

const names = (t: JaegerTrace) => t.spans.map((s) => s.operationName);
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

/** The trace id an answer's traceresponse header names. */
function traceOfAnswer(headers: Headers): string {
  const [, traceId] = (headers.get('traceresponse') ?? '').split('-');
  if (!traceId) throw new Error('the answer names no trace (traceresponse header)');
  return traceId;
}

describe('a checkout through the gateway', () => {
  test('gives Jaeger one trace, from the request to the email, across every service it crosses', async () => {
    const api = client(gatewayUrl);
    const buyer = stack.tokens.buyer;
    const method = await api('POST', '/payments/methods', {
      token: buyer,
      body: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' },
    });
    expect(method.status).toBe(201);
    const checkout = await api('POST', '/checkout', {
      token: buyer,
      headers: { 'idempotency-key': randomUUID() },
      body: { paymentMethod: method.body.id },
    });
    expect(checkout).toMatchObject({ status: 201, body: { status: 'paid' } });
    const orderId = String(checkout.body.orderId);
    await eventually({ what: 'the buyer’s emails of the order', timeoutMs: 60_000 }, () =>
      readdirSync(mailDir).filter((f) => readFileSync(join(mailDir, f), 'utf8').includes(orderId))
        .length >= 2
        ? true
        : undefined,
    );

    // Everything the checkout set off, exported: up to the last email's send.
    const wanted = [
      'POST /checkout',
      'checkout lock_cart',
      'checkout reserve_stock',
      'catalog.stock reserve',
      'checkout create_order',
      'checkout authorize_payment',
      'payments authorize',
      'payment_provider authorize',
      'checkout capture_payment',
      'payments capture',
      'payment_provider capture',
      'checkout mark_paid',
      'checkout finish',
      'catalog.stock commit',
      'publish order_exchange',
      'process order_created',
      'process order_paid',
      'publish notification_exchange',
      'process email_notifications',
      'smtp send',
    ];
    // Jaeger lists every trace with a span of checkout: also those of events it published
    // for others (its relay covers products too). Exactly one is a checkout request's.
    const checkouts = await eventually(
      { what: 'the checkout’s whole trace in Jaeger', timeoutMs: 60_000 },
      async () => {
        const traces = (await jaeger.query.traces('checkout')).filter((t) =>
          names(t).includes('POST /checkout'),
        );
        if (traces.length !== 1) return traces.length > 1 ? traces : undefined;
        const whole = await jaeger.query.trace(traces[0]?.traceID ?? '');
        const sent = whole?.spans.filter((s) => s.operationName === 'smtp send').length ?? 0;
        // A child is exported when it ends, its parent only when that ends too (a delivery
        // acks after its email is sent): wait until no span's parent is still to come.
        const ids = new Set(whole?.spans.map((s) => s.spanID));
        const parentsIn = whole?.spans.every((s) =>
          s.references.every((r) => r.refType !== 'CHILD_OF' || ids.has(r.spanID)),
        );
        return whole && wanted.every((n) => names(whole).includes(n)) && sent >= 2 && parentsIn
          ? [whole]
          : undefined;
      },
    );
    expect(checkouts).toHaveLength(1);
    const [trace] = checkouts as [JaegerTrace];
    expect(traceOfAnswer(checkout.headers)).toBe(trace.traceID);
    expect(names(trace)).toEqual(expect.arrayContaining(wanted));
    // One trace id throughout, and every span but the request's hangs from one in it.
    const ids = new Set(trace.spans.map((s) => s.spanID));
    for (const span of trace.spans) {
      expect(span.traceID).toBe(trace.traceID);
      const parents = span.references.filter((r) => r.refType === 'CHILD_OF');
      if (span.operationName === 'POST /checkout') expect(parents).toEqual([]);
      else expect(parents.map((p) => ids.has(p.spanID))).toEqual([true]);
    }
    const serviceOfSpan = (name: string) =>
      new Set(trace.spans.filter((s) => s.operationName === name).map((s) => serviceOf(trace, s)));
    expect(serviceOfSpan('POST /checkout')).toEqual(new Set(['checkout']));
    expect(serviceOfSpan('process order_paid')).toEqual(new Set(['orders']));
    expect(serviceOfSpan('smtp send')).toEqual(new Set(['notifications']));
    // The messaging spans carry OpenTelemetry's messaging attributes.
    const tags = (name: string, keys: string[]) => {
      const span = trace.spans.find((s) => s.operationName === name);
      return span && Object.fromEntries(keys.map((k) => [k, tag(span, k)]));
    };
    const MESSAGING = [
      'span.kind',
      'messaging.system',
      'messaging.operation.type',
      'messaging.operation.name',
      'messaging.destination.name',
      'messaging.rabbitmq.destination.routing_key',
    ];
    expect(tags('publish order_exchange', MESSAGING)).toEqual({
      'span.kind': 'producer',
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'order_exchange',
      'messaging.rabbitmq.destination.routing_key': expect.stringMatching(/^order\./) as unknown,
    });
    expect(tags('process order_paid', [...MESSAGING, 'messaging.consumer.group.name'])).toEqual({
      'span.kind': 'consumer',
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'order_exchange',
      'messaging.rabbitmq.destination.routing_key': 'order.paid',
      'messaging.consumer.group.name': expect.any(String) as unknown,
    });
    // The request's MongoDB operations are there, without their values.
    const reserve = trace.spans.find((s) => s.operationName === 'findOneAndUpdate products');
    expect(reserve && tag(reserve, 'db.system.name')).toBe('mongodb');
    expect(JSON.stringify(trace.spans.map((s) => s.tags))).not.toContain(stack.seeded.buyerId);
    // The simulated provider plays an external system: its calls are spans, its storage is
    // not (a real provider's would not be in our trace either).
    const collections = trace.spans.map((s) => tag(s, 'db.collection.name'));
    expect(collections.filter((c) => String(c).startsWith('simulated_provider'))).toEqual([]);
  });
});

/** traceparent values no W3C parser may take. */
const MALFORMED = {
  garbage: 'not a trace context',
  'a zero trace id': `00-${'0'.repeat(32)}-${'ab'.repeat(8)}-01`,
  'a zero parent id': `00-${'cd'.repeat(16)}-${'0'.repeat(16)}-01`,
  'version ff': `ff-${'cd'.repeat(16)}-${'ab'.repeat(8)}-01`,
  'a short trace id': `00-${'cd'.repeat(15)}-${'ab'.repeat(8)}-01`,
  'no flags': `00-${'cd'.repeat(16)}-${'ab'.repeat(8)}`,
  'not hex': `00-${'zz'.repeat(16)}-${'ab'.repeat(8)}-01`,
  'eight kilobytes': `00-${'cd'.repeat(16)}-${'ab'.repeat(8)}-01-${'x'.repeat(8_000)}`,
};

test('a well-formed traceparent on a request is continued', async () => {
  const [traceId, parentId] = [randomUUID().replace(/-/g, ''), 'ab'.repeat(8)];
  const answer = await client(gatewayUrl)('GET', '/products?limit=1', {
    headers: { traceparent: `00-${traceId}-${parentId}-01` },
  });
  expect(answer.status).toBe(200);
  expect(traceOfAnswer(answer.headers)).toBe(traceId);
  const trace = await eventually({ what: `trace ${traceId}`, timeoutMs: 30_000 }, () =>
    jaeger.query.trace(traceId),
  );
  const request = trace.spans.find((s) => s.operationName === 'GET /products');
  expect(request?.references.map((r) => r.spanID)).toEqual([parentId]);
});

describe('a malformed traceparent', () => {
  test.each(Object.entries(MALFORMED))(
    'on a request (%s) gets the usual answer, in a new trace',
    async (_shape, traceparent) => {
      const answer = await client(gatewayUrl)('GET', '/products?limit=1', {
        headers: { traceparent, tracestate: 'not=a=trace state,,' },
      });
      expect(answer.status).toBe(200);
      const traceId = traceOfAnswer(answer.headers);
      expect(traceparent).not.toContain(traceId);
      const trace = await eventually({ what: `trace ${traceId}`, timeoutMs: 30_000 }, () =>
        jaeger.query.trace(traceId),
      );
      const request = trace.spans.find((s) => s.operationName === 'GET /products');
      expect(request?.references).toEqual([]);
    },
  );

  const HEADERS: Record<string, unknown> = {
    garbage: 'not a trace context',
    'bytes, not text': Buffer.from([0xff, 0x00, 0x2d, 0x2d]),
    'a number': 42,
    'a zero trace id': MALFORMED['a zero trace id'],
  };
  test.each(Object.entries(HEADERS))(
    'on a message (%s) is consumed as usual, in a new trace',
    async (_shape, traceparent) => {
      const id = randomUUID();
      const email = `trace-${id}@example.com`;
      const event = {
        id,
        type: 'user.registered',
        occurredAt: new Date().toISOString(),
        data: { email, name: 'Tracy' },
      };
      await stack.tenant.publish(
        'notification_exchange',
        'user.registered',
        Buffer.from(JSON.stringify(event)),
        id,
        { traceparent },
      );
      await eventually({ what: `the email to ${email}`, timeoutMs: 30_000 }, () =>
        readdirSync(mailDir).some((f) => readFileSync(join(mailDir, f), 'utf8').includes(email))
          ? true
          : undefined,
      );
      const [trace] = await eventually({ what: 'its trace', timeoutMs: 30_000 }, async () => {
        const found = await jaeger.query.traces('notifications', { 'messaging.message.id': id });
        return found.length > 0 ? found : undefined;
      });
      const delivery = trace?.spans.find((s) => s.operationName === 'process email_notifications');
      expect(delivery?.references).toEqual([]);
      expect(trace && names(trace)).toContain('smtp send');
    },
  );
});
