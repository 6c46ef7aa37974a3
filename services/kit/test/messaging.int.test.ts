// Messaging against the real RabbitMQ and FerretDB: confirms, the outbox surviving a
// broker outage and a missing binding, consumers that dedupe, retry to a delivery limit
// and dead-letter poison, wait out a dependency outage in the retry queue without using
// up the limit; the re-drive of a dead-letter queue and its depth as a metric.
import { randomBytes } from 'node:crypto';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { MongoClient, type Collection, type Db } from 'mongodb';
import { Registry } from 'prom-client';
import { eventually, loadTestEnv, tcpCable } from '@gorten/testenv';
import {
  Consumer,
  createLogger,
  deadLetterQueueOf,
  DependencyUnavailable,
  OutboxRelay,
  outboxEntry,
  Publisher,
  redrive,
  RETRY_QUEUE_TTL_MS,
  retryQueueOf,
  type EventEnvelope,
  type EventHandler,
  type WithOutbox,
} from '../src/index.js';
import { queueGauges } from '../src/messaging/queue-metrics.js';

const env = loadTestEnv();
const log = createLogger('test', process.env.GORTEN_TEST_LOG ?? 'silent');
const run = randomBytes(3).toString('hex');
const exchange = `kit.events.${run}`;
const work = `kit.work.${run}`;
const [dlq, retry, dlx] = [deadLetterQueueOf(work), retryQueueOf(work), `kit.dlx.${run}`];
let amqp: ChannelModel;
let channel: ConfirmChannel;
let mongo: MongoClient;
let db: Db;

beforeAll(async () => {
  amqp = await connect(env.rabbitmq.amqpUrl);
  channel = await amqp.createConfirmChannel();
  // The operator declares tenant topology; here the test plays that part.
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertExchange(dlx, 'direct', { durable: true });
  await channel.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(dlq, dlx, work);
  await channel.assertQueue(work, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': dlx,
      'x-dead-letter-routing-key': work,
      'x-delivery-limit': 2,
    },
  });
  await channel.bindQueue(work, exchange, 'thing.#');
  // As rabbitmq/topology.json declares every work queue's retry queue.
  await channel.assertQueue(retry, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-message-ttl': RETRY_QUEUE_TTL_MS,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': work,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  });
  mongo = new MongoClient(env.mongo.url);
  db = mongo.db(`kit_${run}`);
});

afterAll(async () => {
  for (const q of [work, retry, dlq]) await channel.deleteQueue(q);
  for (const e of [exchange, dlx]) await channel.deleteExchange(e);
  await amqp.close();
  await db.dropDatabase();
  await mongo.close();
});

async function drain(queue: string): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return events;
    events.push(JSON.parse(message.content.toString()) as EventEnvelope);
  }
}

test('a change and its event are written together; the relay publishes it once, after a broker outage too', async () => {
  const things: Collection<WithOutbox> = db.collection('things');
  const entry = outboxEntry(exchange, 'thing.created', 'thing.created', { name: 'kettle' });
  await things.updateOne(
    { _id: 't1' as never },
    { $set: { name: 'kettle' }, $push: { outbox: entry } },
    { upsert: true },
  );

  const down = new Publisher('amqp://guest:guest@127.0.0.1:1', log); // nothing listens there
  expect(await new OutboxRelay([things], down, log).relayOnce()).toBe(0);
  expect((await things.findOne({ _id: 't1' as never }))?.outbox).toHaveLength(1);

  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const relay = new OutboxRelay([things], publisher, log);
  expect(await relay.relayOnce()).toBe(1);
  expect(await relay.relayOnce()).toBe(0);
  expect((await things.findOne({ _id: 't1' as never }))?.outbox).toEqual([]);
  await eventually({ what: 'event in the queue', timeoutMs: 5_000 }, async () => {
    const events = await drain(work);
    if (events.length === 0) return undefined;
    expect(events).toEqual([entry.event]);
    return true;
  });
  await publisher.close();
  await down.close();
});

test('an event no queue is bound for stays in the outbox, and goes out once the binding is back', async () => {
  const things: Collection<WithOutbox> = db.collection('unroutable');
  const entry = outboxEntry(exchange, 'thing.created', 'thing.created', { name: 'lamp' });
  await things.insertOne({ _id: 'u1' as never, outbox: [entry] });
  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const relay = new OutboxRelay([things], publisher, log);
  try {
    await channel.unbindQueue(work, exchange, 'thing.#'); // a binding deleted by hand
    try {
      expect(await relay.relayOnce()).toBe(0); // the broker returned it: not delivered
      expect((await things.findOne({ _id: 'u1' as never }))?.outbox).toEqual([entry]);
    } finally {
      await channel.bindQueue(work, exchange, 'thing.#');
    }
    expect(await relay.relayOnce()).toBe(1);
    expect(await received(work, 1)).toEqual([entry.event]);
    expect((await things.findOne({ _id: 'u1' as never }))?.outbox).toEqual([]);
  } finally {
    await publisher.close();
  }
});

/** Events that reach `queue` until `count` are there (then a moment for duplicates). */
async function received(queue: string, count: number): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  await eventually({ what: `${count} events in ${queue}`, timeoutMs: 5_000 }, async () => {
    events.push(...(await drain(queue)));
    return events.length >= count ? true : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  return [...events, ...(await drain(queue))];
}

test('an announced write is published at once, in order and once, without waiting for a sweep', async () => {
  const things: Collection<WithOutbox> = db.collection('announced');
  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const relay = new OutboxRelay([things], publisher, log, 600_000); // no sweep in this test
  relay.start();
  try {
    const entries = ['a', 'b', 'c'].map((name) =>
      outboxEntry(exchange, 'thing.updated', 'thing.updated', { name }),
    );
    // Each write is announced as soon as it is stored, while the relay is still busy
    // with the earlier ones: their document is relayed again after the running pass.
    for (const entry of entries) {
      await things.updateOne(
        { _id: 'a1' as never },
        { $push: { outbox: entry } },
        { upsert: true },
      );
      relay.announce(things, 'a1');
    }
    expect(await received(work, 3)).toEqual(entries.map((e) => e.event));
    expect((await things.findOne({ _id: 'a1' as never }))?.outbox).toEqual([]);
    // A collection this relay does not cover: announcing is harmless, the event waits.
    const elsewhere: Collection<WithOutbox> = db.collection('not_relayed_here');
    const waiting = outboxEntry(exchange, 'thing.updated', 'thing.updated', {});
    await elsewhere.insertOne({ _id: 'e1' as never, outbox: [waiting] });
    relay.announce(elsewhere, 'e1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await drain(work)).toEqual([]);
    expect((await elsewhere.findOne({ _id: 'e1' as never }))?.outbox).toHaveLength(1);
  } finally {
    await relay.stop();
    await publisher.close();
  }
});

test('an announcement carrying the outbox as its write left it is published from it, without reading the document', async () => {
  const real: Collection<WithOutbox> = db.collection('announced_written');
  let reads = 0;
  // The real collection, its reads counted.
  const things = Object.assign(Object.create(real) as Collection<WithOutbox>, {
    findOne: (...args: Parameters<Collection<WithOutbox>['findOne']>) => {
      reads++;
      return real.findOne(...args);
    },
  });
  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const relay = new OutboxRelay([things], publisher, log, 600_000);
  relay.start();
  try {
    const entries = ['x', 'y'].map((name) =>
      outboxEntry(exchange, 'thing.updated', 'thing.updated', { name }),
    );
    await real.insertOne({ _id: 'w1' as never, outbox: entries });
    relay.announce(things, 'w1', entries);
    expect(await received(work, 2)).toEqual(entries.map((e) => e.event));
    expect((await real.findOne({ _id: 'w1' as never }))?.outbox).toEqual([]);
    expect(reads).toBe(0);
  } finally {
    await relay.stop();
    await publisher.close();
  }
});

test('an announced event the broker could not take goes out within seconds of its return, not at the next sweep', async () => {
  const cable = await tcpCable(env.rabbitmq.amqpUrl, { connected: false });
  const things: Collection<WithOutbox> = db.collection('announced_outage');
  const publisher = new Publisher(cable.url, log);
  const relay = new OutboxRelay([things], publisher, log, 600_000);
  relay.start();
  try {
    const entry = outboxEntry(exchange, 'thing.updated', 'thing.updated', { name: 'late' });
    await things.insertOne({ _id: 'o1' as never, outbox: [entry] });
    relay.announce(things, 'o1');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a failed try and a retry
    expect((await things.findOne({ _id: 'o1' as never }))?.outbox).toEqual([entry]);
    expect(await drain(work)).toEqual([]);

    cable.connected(true);
    expect(await received(work, 1)).toEqual([entry.event]);
    expect((await things.findOne({ _id: 'o1' as never }))?.outbox).toEqual([]);
  } finally {
    await relay.stop();
    await publisher.close();
    await cable.close();
  }
});

/** A consumer of the work queue with the service's parts: its own publisher, the kit's log. */
function consumerOf(name: string, handler: EventHandler) {
  const publisher = new Publisher(env.rabbitmq.amqpUrl, log);
  const consumer = new Consumer(
    env.rabbitmq.amqpUrl,
    db,
    { name, queue: work },
    handler,
    publisher,
    log,
  );
  return {
    consumer,
    start: () => consumer.start(),
    stop: async () => {
      await consumer.stop();
      await publisher.close();
    },
  };
}

async function publishEvent(event: EventEnvelope): Promise<void> {
  channel.publish(exchange, event.type, Buffer.from(JSON.stringify(event)), {
    messageId: event.id,
    persistent: true,
  });
  await channel.waitForConfirms();
}

test('a redelivered event is handled once; a failing one is retried to the limit and dead-lettered; poison goes straight there', async () => {
  const handled: string[] = [];
  const consumer = consumerOf('kit-test', (event) => {
    handled.push(event.id);
    return event.type === 'thing.broken'
      ? Promise.reject(new Error('cannot handle'))
      : Promise.resolve();
  });
  await consumer.start();
  try {
    const once = outboxEntry(exchange, 'thing.updated', 'thing.updated', {}).event;
    for (let i = 0; i < 2; i++)
      channel.publish(exchange, 'thing.updated', Buffer.from(JSON.stringify(once)), {
        messageId: once.id,
        persistent: true,
      });
    const broken = outboxEntry(exchange, 'thing.broken', 'thing.broken', {}).event;
    channel.publish(exchange, 'thing.broken', Buffer.from(JSON.stringify(broken)), {
      messageId: broken.id,
      persistent: true,
    });
    channel.publish(exchange, 'thing.garbage', Buffer.from('{not json'), { persistent: true });
    await channel.waitForConfirms();

    const dead = await eventually(
      { what: 'two messages dead-lettered', timeoutMs: 15_000 },
      async () => {
        const all = await channel.checkQueue(dlq);
        return all.messageCount === 2 ? true : undefined;
      },
    );
    expect(dead).toBe(true);
    expect(handled.filter((id) => id === once.id)).toHaveLength(1);
    // delivery limit 2: the first delivery and two redeliveries, then dead-lettered
    expect(handled.filter((id) => id === broken.id).length).toBeGreaterThanOrEqual(2);
    const deadBodies = [];
    for (;;) {
      const m = await channel.get(dlq, { noAck: true });
      if (m === false) break;
      deadBodies.push(m.content.toString());
    }
    expect(deadBodies).toEqual(expect.arrayContaining(['{not json', JSON.stringify(broken)]));
  } finally {
    await consumer.stop();
  }
});

test('a dependency away for 60 s uses up no delivery attempt: the event waits in the retry queue and is handled once', async () => {
  const event = outboxEntry(exchange, 'thing.updated', 'thing.updated', { name: 'late' }).event;
  let firstTry: number | undefined;
  let tries = 0;
  const handled: string[] = [];
  const consumer = consumerOf('kit-outage', (e) => {
    if (e.id !== event.id) return Promise.resolve();
    tries++;
    firstTry ??= Date.now();
    if (Date.now() - firstTry < 60_000)
      return Promise.reject(new DependencyUnavailable('database', 'the database is away'));
    handled.push(e.id);
    return Promise.resolve();
  });
  await consumer.start();
  try {
    await publishEvent(event);
    await eventually({ what: 'the event handled after the outage', timeoutMs: 110_000 }, () =>
      Promise.resolve(handled.length > 0 ? true : undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a second copy
    expect(handled).toEqual([event.id]);
    expect(tries).toBeGreaterThan(3); // the first delivery and the queue's 2 redeliveries
    expect((await channel.checkQueue(dlq)).messageCount).toBe(0);
    expect((await channel.checkQueue(retry)).messageCount).toBe(0);
  } finally {
    await consumer.stop();
  }
}, 150_000);

test('a failing event dead-letters after the limit and shows in gorten_dlq_messages; re-driven it is handled once', async () => {
  const event = outboxEntry(exchange, 'thing.updated', 'thing.updated', { name: 'fixed' }).event;
  let fixed = false;
  const handled: string[] = [];
  const consumer = consumerOf('kit-redrive', (e) => {
    if (!fixed) return Promise.reject(new Error('a bug in the handler'));
    handled.push(e.id);
    return Promise.resolve();
  });
  const registry = new Registry();
  queueGauges(registry, [consumer.consumer], log);
  const depth = async () =>
    (await registry.getSingleMetric('gorten_dlq_messages')?.get())?.values.find(
      (v) => v.labels.queue === work,
    )?.value;
  await consumer.start();
  try {
    await publishEvent(event);
    await eventually({ what: 'the event in the DLQ metric', timeoutMs: 30_000 }, async () =>
      (await depth()) === 1 ? true : undefined,
    );
    expect(await registry.metrics()).toContain(`gorten_dlq_messages{queue="${work}"} 1`);
    expect(handled).toEqual([]);

    fixed = true; // the handler's bug is fixed and deployed; the operator re-drives
    expect(await redrive(env.rabbitmq.amqpUrl, work, log)).toBe(1);
    await eventually({ what: 'the re-driven event handled', timeoutMs: 30_000 }, () =>
      Promise.resolve(handled.length > 0 ? true : undefined),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // room for a second copy
    expect(handled).toEqual([event.id]);
    expect(await depth()).toBe(0);
    expect(await redrive(env.rabbitmq.amqpUrl, work, log)).toBe(0);
  } finally {
    await consumer.stop();
  }
});
