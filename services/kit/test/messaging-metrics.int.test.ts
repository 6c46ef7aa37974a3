// The messaging gauges against the real RabbitMQ and FerretDB, read as a scrape reads
// them: a consumer's lag is the messages still ready in its queue (they pile up behind a
// handler that is stuck and are gone once it is not), and the outbox age grows while the
// broker is away and is 0 again once the relay got the event out.
import { randomBytes } from 'node:crypto';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { MongoClient, type Collection, type Db } from 'mongodb';
import { Registry } from 'prom-client';
import { eventually, loadTestEnv, tcpCable } from '@gorten/testenv';
import {
  Consumer,
  createLogger,
  deadLetterQueueOf,
  OutboxRelay,
  outboxEntry,
  Publisher,
  type WithOutbox,
} from '../src/index.js';
import { outboxAgeGauge } from '../src/messaging/outbox-age.js';
import { queueGauges } from '../src/messaging/queue-metrics.js';

const env = loadTestEnv();
const log = createLogger('test', process.env.GORTEN_TEST_LOG ?? 'silent');
const run = randomBytes(3).toString('hex');
const exchange = `kit.metrics.${run}`;
const work = `kit.metrics.work.${run}`;
const dlq = deadLetterQueueOf(work);
let amqp: ChannelModel;
let channel: ConfirmChannel;
let mongo: MongoClient;
let db: Db;

beforeAll(async () => {
  amqp = await connect(env.rabbitmq.amqpUrl);
  channel = await amqp.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.assertQueue(work, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(work, exchange, 'thing.#');
  mongo = new MongoClient(env.mongo.url);
  db = mongo.db(`kit_metrics_${run}`);
});

afterAll(async () => {
  for (const q of [work, dlq]) await channel.deleteQueue(q);
  await channel.deleteExchange(exchange);
  await amqp.close();
  await db.dropDatabase();
  await mongo.close();
});

/** The value of `metric`'s series with these labels in a scrape of `registry`, if any. */
async function scraped(
  registry: Registry,
  metric: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const text = await registry.metrics();
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{${wanted}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('gorten_consumer_lag_messages counts what waits behind a stuck handler, and falls to 0 once it is not', async () => {
  let release: () => void = () => undefined;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const handled: string[] = [];
  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const consumer = new Consumer(
    env.rabbitmq.amqpUrl,
    db,
    { name: 'kit-lag', queue: work, prefetch: 1 },
    async (event) => {
      await stuck;
      handled.push(event.id);
    },
    publisher,
    log,
  );
  const registry = new Registry();
  queueGauges(registry, [consumer], log);
  await consumer.start();
  try {
    const lag = () => scraped(registry, 'gorten_consumer_lag_messages', { queue: work });
    expect(await lag()).toBe(0);
    for (let i = 0; i < 5; i++) {
      const event = outboxEntry(exchange, 'thing.updated', 'thing.updated', { i }).event;
      channel.publish(exchange, 'thing.updated', Buffer.from(JSON.stringify(event)), {
        messageId: event.id,
      });
    }
    await channel.waitForConfirms();
    // One delivered (prefetch 1) and held by the handler; four ready behind it.
    await eventually({ what: 'a lag of 4', timeoutMs: 10_000 }, async () =>
      (await lag()) === 4 ? true : undefined,
    );
    expect(await scraped(registry, 'gorten_dlq_messages', { queue: work })).toBe(0);
    release();
    await eventually({ what: 'all five handled and no lag', timeoutMs: 10_000 }, async () =>
      handled.length === 5 && (await lag()) === 0 ? true : undefined,
    );
  } finally {
    release();
    await consumer.stop();
    await publisher.close();
  }
  // A stopped consumer cannot ask the broker: no sample rather than a stale figure.
  expect(await scraped(registry, 'gorten_consumer_lag_messages', { queue: work })).toBeUndefined();
});

test('gorten_outbox_oldest_entry_age_seconds grows while the broker is away and is 0 once the event went out', async () => {
  const things: Collection<WithOutbox> = db.collection('aging');
  const other: Collection<WithOutbox> = db.collection('idle');
  await other.insertOne({ _id: 'i1' as never, outbox: [] });
  const registry = new Registry();
  outboxAgeGauge(registry, [things, other], log);
  const age = (collection: string) =>
    scraped(registry, 'gorten_outbox_oldest_entry_age_seconds', { collection });
  const cable = await tcpCable(env.rabbitmq.amqpUrl, { connected: false });
  const publisher = new Publisher(cable.url, log);
  const relay = new OutboxRelay([things], publisher, log, 200);
  relay.start();
  try {
    expect(await age('aging')).toBe(0);
    const older = outboxEntry(exchange, 'thing.updated', 'thing.updated', { name: 'older' });
    older.event.occurredAt = new Date(Date.now() - 60_000).toISOString();
    const newer = outboxEntry(exchange, 'thing.updated', 'thing.updated', { name: 'newer' });
    await things.insertOne({ _id: 'n1' as never, outbox: [newer] });
    await things.insertOne({ _id: 'o1' as never, outbox: [older] });
    // The document written last holds the oldest entry: by age, not by write order.
    const first = (await age('aging')) ?? 0;
    expect(first).toBeGreaterThanOrEqual(60);
    await eventually(
      { what: 'the age growing while the broker is away', timeoutMs: 10_000 },
      async () => (((await age('aging')) ?? 0) >= first + 1 ? true : undefined),
    );
    expect(await age('idle')).toBe(0);

    cable.connected(true);
    await eventually({ what: 'the outbox empty, its age 0', timeoutMs: 20_000 }, async () =>
      (await age('aging')) === 0 ? true : undefined,
    );
  } finally {
    await relay.stop();
    await publisher.close();
    await cable.close();
  }
});
