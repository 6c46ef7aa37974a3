// A real Prometheus scraping what runs a tenant: the operator (in-process), every service
// of one tenant (in-process, each on its own port and registry) and the broker's
// rabbitmq_prometheus plugin, with the scrape jobs npm start uses (platformJobs). Every
// target is up; a checkout through the API moves the checkout and money counters; a
// poison message shows in the dead-letter depths, both the broker's and the service's;
// emails piling up behind a mail relay that hangs show as consumer lag; and an event
// kept in an outbox while the broker is away shows as its age, back to 0 once sent.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { RunningService } from '@gorten/kit';
import { notificationsService } from '@gorten/notifications';
import {
  createLogger,
  installCrds,
  Kube,
  loadConfig,
  readCrds,
  SERVICE_NAMES,
  startOperator,
  type RunningOperator,
} from '@gorten/operator';
import { client, startTestService } from '@gorten/service-testing';
import {
  envVars,
  eventually,
  loadTestEnv,
  platformJobs,
  startPrometheus,
  type Prometheus,
} from '@gorten/testenv';
import { startStack, type Stack } from '../api/stack.js';
import { chartRuleGroups, readDashboard } from '../delivery/monitoring.js';
import { promqlExpressions } from '../delivery/promql.js';

const env = loadTestEnv();
let stack: Stack;
let notifications: RunningService<unknown>;
let operator: RunningOperator;
let prometheus: Prometheus;

/**
 * A mail relay that takes connections and never greets: every send hangs (the service is
 * told to wait for a greeting far longer than this file runs). Told to refuse, it answers
 * 421 (try later) to whoever waits and whoever comes, so the sends end.
 */
const relaySockets = new Set<Socket>();
let relayRefuses = false;
const refuse = (socket: Socket) => socket.end('421 closing for the test\r\n');
const mailRelay: Server = createServer((socket) => {
  socket.on('error', () => undefined);
  if (relayRefuses) return refuse(socket);
  relaySockets.add(socket);
  socket.on('close', () => relaySockets.delete(socket));
});

/** The only sample of `expr`, or undefined while there is none (not scraped yet). */
async function value(expr: string): Promise<number | undefined> {
  const samples = await prometheus.query(expr);
  if (samples.length > 1) throw new Error(`${expr}: ${samples.length} samples, not one`);
  return samples[0]?.value;
}

/** Waits until the only sample of `expr` passes `ok`; says what it saw last if it never does. */
async function until(
  expr: string,
  ok: (v: number) => boolean,
  timeoutMs = 30_000,
): Promise<number> {
  let last: number | undefined;
  try {
    return await eventually({ what: expr, timeoutMs }, async () => {
      last = await value(expr);
      return last !== undefined && ok(last) ? last : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last value: ${last}`, { cause: err });
  }
}

beforeAll(async () => {
  await new Promise<void>((resolve) => mailRelay.listen(0, '127.0.0.1', resolve));
  const relayPort = (mailRelay.address() as { port: number }).port;
  stack = await startStack();
  notifications = await startTestService(notificationsService, stack.tenant, 'notifications', {
    SMTP_URL: `smtp://127.0.0.1:${relayPort}?greetingTimeout=600000`,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(env.kube.kubeconfig);
  await installCrds(new Kube(kubeConfig), readCrds());
  // Its selector matches no Marketplace: it serves /metrics and reconciles nothing here.
  const config = loadConfig({
    ...envVars(env, process.env.GORTEN_TESTENV ?? ''),
    GORTEN_METRICS_HOST: '127.0.0.1',
    GORTEN_METRICS_PORT: '0',
    GORTEN_LEADER_ELECT: 'false',
    GORTEN_MARKETPLACE_SELECTOR: 'gorten.io/test-shard=observability',
  });
  operator = await startOperator(config, createLogger(process.env.GORTEN_TEST_LOG ?? 'silent'));
  prometheus = await startPrometheus({
    jobs: platformJobs({
      operator: `127.0.0.1:${operator.port}`,
      services: [
        ...Object.entries(stack.urls).map(([service, url]) => ({ service, url })),
        { service: 'notifications', url: notifications.url },
      ].map(({ service, url }) => ({
        service,
        marketplace: stack.tenant.name,
        address: new URL(url).host,
      })),
      rabbitmq: new URL(env.rabbitmq.prometheusUrl).host,
    }),
  });
}, 180_000);

afterAll(async () => {
  // The hung sends end first (421: they wait in the retry queue), then everything stops.
  relayRefuses = true;
  for (const socket of relaySockets) refuse(socket);
  // beforeAll may have failed before it started them
  await (prometheus as Prometheus | undefined)?.stop();
  await (operator as RunningOperator | undefined)?.stop();
  await (notifications as RunningService<unknown> | undefined)?.close();
  await (stack as Stack | undefined)?.close();
  mailRelay.close();
}, 60_000);

const SERVICES = [...SERVICE_NAMES].sort();

test('every target is up: the operator, each of the tenant’s services, the broker', async () => {
  const expected = ['gorten-operator', ...SERVICES.map((s) => `gorten-services/${s}`), 'rabbitmq'];
  const up = await eventually({ what: 'every target up', timeoutMs: 30_000 }, async () => {
    const samples = await prometheus.query('up == 1');
    const seen = samples.map((s) => [s.metric.job, s.metric.service].filter(Boolean).join('/'));
    return seen.length === expected.length ? seen.sort() : undefined;
  });
  expect(up).toEqual(expected);
  // Each service labels its own series with its marketplace (MARKETPLACE), not only the
  // target Prometheus adds it to.
  const urls = { ...stack.urls, notifications: notifications.url };
  for (const [service, url] of Object.entries(urls)) {
    const own = await (await fetch(`${url}/metrics`)).text();
    expect(own).toContain(
      `process_cpu_seconds_total{service="${service}",marketplace="${stack.tenant.name}"}`,
    );
  }
});

test('a checkout through the API moves gorten_checkouts_total and the money counters; a second finds the cart empty', async () => {
  const market = `marketplace="${stack.tenant.name}"`;
  const paid = `gorten_checkouts_total{${market},outcome="paid",reason="none"}`;
  expect(await until(paid, () => true)).toBe(0);
  const buyer = stack.tokens.buyer;
  const method = await client(stack.urls.payments)<{ id: string }>('POST', '/payments/methods', {
    token: buyer,
    body: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' },
  });
  expect(method.status).toBe(201);
  const checkout = () =>
    client(stack.urls.checkout)<{ total: number }>('POST', '/checkout', {
      token: buyer,
      headers: { 'idempotency-key': randomUUID() },
      body: { paymentMethod: method.body.id },
    });
  const bought = await checkout();
  expect(bought).toMatchObject({ status: 201, body: { total: 2 * 4_999 } });

  await until(paid, (v) => v === 1);
  const money = (operation: string) =>
    `sum(gorten_payment_amount_minor_units_total{${market},currency="EUR",operation="${operation}"})`;
  expect(await until(money('authorized'), (v) => v > 0)).toBe(9_998);
  expect(await until(money('captured'), (v) => v > 0)).toBe(9_998);
  expect(
    await until(`gorten_checkout_duration_seconds_count{${market},outcome="paid"}`, (v) => v > 0),
  ).toBe(1);
  expect(await until(`gorten_orders{${market},service="orders",status="paid"}`, (v) => v > 0)).toBe(
    1,
  );

  expect((await checkout()).status).toBe(422);
  await until(
    `gorten_checkouts_total{${market},outcome="refused",reason="cart_empty"}`,
    (v) => v === 1,
  );
});

test('a poison message raises the dead-letter depth the broker reports and the one its consumer reports', async () => {
  const vhost = stack.tenant.vhost;
  const brokerDlq = `rabbitmq_detailed_queue_messages_ready{vhost="${vhost}",queue="order_created.dlq"}`;
  const serviceDlq = `gorten_dlq_messages{marketplace="${stack.tenant.name}",service="orders",queue="order_created"}`;
  expect(await until(brokerDlq, () => true)).toBe(0);
  expect(await until(serviceDlq, () => true)).toBe(0);
  // The work queue itself is visible too.
  expect(
    await until(
      `rabbitmq_detailed_queue_messages_ready{vhost="${vhost}",queue="order_created"}`,
      () => true,
    ),
  ).toBe(0);

  await stack.tenant.publish('order_exchange', 'order.created', Buffer.from('not an event'), 'p1');
  await until(brokerDlq, (v) => v === 1);
  await until(serviceDlq, (v) => v === 1);
});

test('emails waiting behind a mail relay that hangs show as consumer lag, as the broker counts them', async () => {
  const lag = `gorten_consumer_lag_messages{marketplace="${stack.tenant.name}",service="notifications",queue="email_notifications"}`;
  const ready = `rabbitmq_detailed_queue_messages_ready{vhost="${stack.tenant.vhost}",queue="email_notifications"}`;
  const users = client(stack.urls.users);
  // Each registration queues a welcome email; the worker holds 10 (its prefetch), stuck.
  for (let i = 0; i < 15; i++) {
    const registered = await users('POST', '/auth/register', {
      body: { email: `waiting-${i}@example.com`, password: 'a long enough secret', name: `W ${i}` },
    });
    expect(registered.status).toBe(202);
  }
  // Once all have arrived the figures stand still: the service's is the broker's.
  let last: (number | undefined)[] = [];
  await eventually({ what: `${lag} >= 5, as the broker counts`, timeoutMs: 30_000 }, async () => {
    last = [await value(lag), await value(ready)];
    return last[0] !== undefined && last[0] >= 5 && last[0] === last[1] ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last [lag, ready]: ${last.join(', ')}`);
  });
});

test('an event kept in an outbox while the broker is away shows its age, 0 again once it went out', async () => {
  const market = `marketplace="${stack.tenant.name}"`;
  const age = `gorten_outbox_oldest_entry_age_seconds{${market},service="users",collection="users"}`;
  expect(await until(age, () => true)).toBe(0);
  const restore = await stack.tenant.cutOffBroker();
  try {
    const registered = await client(stack.urls.users)('POST', '/auth/register', {
      body: { email: 'kept@example.com', password: 'a long enough secret', name: 'Kept' },
    });
    expect(registered.status).toBe(202);
    await until(age, (v) => v >= 2);
    // The services keep serving, and keep being scraped, without their broker.
    expect(await value(`min(up{job="gorten-services",${market}})`)).toBe(1);
  } finally {
    await restore();
  }
  await until(age, (v) => v === 0, 60_000);
});

// Last, so that the tests above have made the series the dashboard and the alerts read.
test('every expression of the dashboard and of the alerting rules runs here without an error', async () => {
  const expressions = promqlExpressions(readDashboard(), chartRuleGroups());
  expect(expressions.length).toBeGreaterThan(20);
  const failures: string[] = [];
  for (const { where, expr } of expressions) {
    try {
      await prometheus.query(expr);
    } catch (err) {
      failures.push(`${where}: ${(err as Error).message}`);
    }
  }
  expect(failures).toEqual([]);
});

test('every metric the dashboard and the alerts read is one a target here declares', async () => {
  // A misspelt metric is no error to Prometheus, only an empty answer: so each name is
  // looked up in what the targets declare (# TYPE lines, there even before a first sample).
  const declared = new Set<string>();
  for (const target of await prometheus.targets()) {
    const text = await (await fetch(target.scrapeUrl)).text();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      declared.add(name ?? '');
      if (type === 'histogram' || type === 'summary')
        for (const part of ['_bucket', '_count', '_sum']) declared.add(`${name}${part}`);
    }
    // The broker's per-object families have no TYPE lines for some; their samples count.
    for (const [, name] of text.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)) declared.add(name ?? '');
  }
  const read = new Set<string>();
  for (const { expr } of promqlExpressions(readDashboard(), chartRuleGroups()))
    for (const [name] of expr.matchAll(/\b(?:gorten|http|dependency|rabbitmq)_\w+/g))
      read.add(name);
  expect(read.size).toBeGreaterThan(10);
  expect([...read].filter((name) => !declared.has(name))).toEqual([]);
});
