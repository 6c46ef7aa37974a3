// The metrics every service shares, without I/O: the default labels, gauges read at
// scrape time (what a failed read leaves), both queue gauges from one read, outbox ages.
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { gaugeReadAtScrape, ServiceMetrics } from '../src/metrics.js';
import { entryAgeSeconds } from '../src/messaging/outbox-age.js';
import { queueGauges, type QueueDepths } from '../src/messaging/queue-metrics.js';

const log = pino({ level: 'silent' });

test('every series carries the service and, in a tenant, its marketplace', async () => {
  const tenant = await new ServiceMetrics('orders', 'demo').registry.metrics();
  expect(tenant).toMatch(/^process_cpu_seconds_total\{service="orders",marketplace="demo"\} /m);
  const bare = await new ServiceMetrics('orders').registry.metrics();
  expect(bare).toMatch(/^process_cpu_seconds_total\{service="orders"\} /m);
});

test('a gauge read at scrape has what the read gave, and no sample after a read that failed', async () => {
  const registry = new Registry();
  let answer: () => Promise<[{ status: string }, number][]> = () =>
    Promise.resolve([[{ status: 'paid' }, 3]]);
  gaugeReadAtScrape(
    registry,
    { name: 'probe', help: 'probe', labelNames: ['status'], read: () => answer() },
    log,
  );
  expect(await registry.metrics()).toContain('probe{status="paid"} 3');
  answer = () => Promise.reject(new Error('the database is away'));
  expect(await registry.metrics()).not.toContain('probe{');
});

test('both queue gauges come from one read per queue per scrape; a queue that cannot be read is left out', async () => {
  const registry = new Registry();
  let reads = 0;
  const source = (queue: string, depths?: QueueDepths) => ({
    queue,
    depths: () => {
      reads++;
      return depths ? Promise.resolve(depths) : Promise.reject(new Error('broker away'));
    },
  });
  queueGauges(
    registry,
    [source('order_paid', { ready: 4, deadLettered: 1 }), source('order_created')],
    log,
  );
  const text = await registry.metrics();
  expect(reads).toBe(2);
  expect(text).toContain('gorten_consumer_lag_messages{queue="order_paid"} 4');
  expect(text).toContain('gorten_dlq_messages{queue="order_paid"} 1');
  expect(text).not.toContain('queue="order_created"');
});

test('an outbox entry’s age in seconds: 0 for none, or for one stamped in the future', () => {
  const now = new Date('2026-01-01T00:01:30.000Z');
  expect(entryAgeSeconds('2026-01-01T00:00:00.000Z', now)).toBe(90);
  expect(entryAgeSeconds(undefined, now)).toBe(0);
  expect(entryAgeSeconds('2026-01-01T00:05:00.000Z', now)).toBe(0);
  expect(entryAgeSeconds('not a time', now)).toBe(0);
});
