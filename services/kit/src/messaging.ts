// Messaging on RabbitMQ, with the guarantees the platform promises:
// - Publisher: every publish waits for the broker's confirm; a failure throws.
// - Outbox: an event is written into the same document as the change it reports
//   (one atomic update, no transaction), and a relay publishes pending events and only
//   then removes them — so an event is never lost, and a broker outage only delays it.
// - Consumer: manual ack after the work is stored, dedupe by message id, a failing
//   message redelivered until the queue's delivery limit dead-letters it; a message
//   that cannot even be parsed goes to the dead-letter queue at once.
import { randomUUID } from 'node:crypto';
import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
} from 'amqplib';
import type { Collection, Db, Filter } from 'mongodb';
import type { Logger } from 'pino';
import { backoffDelay, type Backoff } from './backoff.js';

export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  data: T;
}

export interface OutboxEntry {
  id: string;
  exchange: string;
  routingKey: string;
  event: EventEnvelope;
}

/** A new outbox entry; `$push` it in the same update as the change it reports. */
export function outboxEntry(
  exchange: string,
  routingKey: string,
  type: string,
  data: unknown,
): OutboxEntry {
  const id = randomUUID();
  return {
    id,
    exchange,
    routingKey,
    event: { id, type, occurredAt: new Date().toISOString(), data },
  };
}

export class Publisher {
  private model?: ChannelModel;
  private channel?: Promise<ConfirmChannel>;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  private confirmChannel(): Promise<ConfirmChannel> {
    this.channel ??= (async () => {
      const model = await connect(this.url);
      this.model = model;
      const drop = (): void => {
        this.channel = undefined;
        this.model = undefined;
      };
      model.on('close', drop);
      model.on('error', (err: unknown) => {
        this.log.warn({ err }, 'AMQP connection error');
      });
      const channel = await model.createConfirmChannel();
      channel.on('close', drop);
      channel.on('error', (err: unknown) => {
        this.log.warn({ err }, 'AMQP channel error');
      });
      return channel;
    })().catch((err: unknown) => {
      this.channel = undefined;
      throw err;
    });
    return this.channel;
  }

  /** Resolves once the broker has confirmed the message; rejects otherwise. */
  async publish(exchange: string, routingKey: string, event: EventEnvelope): Promise<void> {
    const channel = await this.confirmChannel();
    await new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        routingKey,
        Buffer.from(JSON.stringify(event)),
        {
          persistent: true,
          messageId: event.id,
          type: event.type,
          contentType: 'application/json',
          timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
        },
        (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error('publish not confirmed')) : resolve(),
      );
    });
  }

  async ready(): Promise<void> {
    await this.confirmChannel();
  }

  async close(): Promise<void> {
    const model = this.model;
    this.channel = undefined;
    this.model = undefined;
    await model?.close().catch(() => undefined);
  }
}

/** Documents that may carry pending events in an `outbox` array. */
export interface WithOutbox {
  outbox?: OutboxEntry[];
}

/** How often a relay scans its collections whole unless told otherwise. */
export const OUTBOX_SWEEP_MS = 1_000;

/** Per namespace ("db.collection"), the relays of this process that announcements reach. */
const relaysOf = new Map<string, OutboxRelay[]>();

/**
 * Publishes outbox events in two ways, both through the same per-document path:
 * - announced: a writer that appended to a document's outbox calls
 *   `OutboxRelay.announce(collection, id)` after its write, and the relay of this process
 *   publishes that document's events at once (reads and updates by `_id` only);
 * - swept: every `sweepMs` the relay scans its collections whole for pending events — the
 *   safety net for writes nobody announced (another process, a crash between the write
 *   and the announcement, a writer that does not announce). After a failure (the broker
 *   is away) it sweeps again within a second instead of waiting for the next sweep.
 * Guarantees either way: an entry is removed only after the broker confirmed it (at
 * least once), and one document's entries go out in order, one run per document at a
 * time.
 */
export class OutboxRelay {
  private sweepTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;
  private started = false;
  private readonly collections: Map<string, Collection<WithOutbox>>;
  /** The document runs in progress, and how often each document was asked for. */
  private readonly runs = new Map<string, { done: Promise<number>; asked: number }>();

  constructor(
    collections: Collection<WithOutbox>[],
    private readonly publisher: Publisher,
    private readonly log: Logger,
    private readonly sweepMs = OUTBOX_SWEEP_MS,
  ) {
    this.collections = new Map(collections.map((c) => [c.namespace, c]));
  }

  /**
   * The document `id` of `collection` has a new outbox entry: the relay of this process
   * that covers the collection publishes it now. Without one, the next sweep (here or in
   * another process) does. Never throws; call it after the write succeeded.
   */
  static announce(collection: { namespace: string }, id: string): void {
    relaysOf.get(collection.namespace)?.[0]?.relayAnnounced(collection.namespace, id);
  }

  private relayAnnounced(namespace: string, id: string): void {
    const collection = this.collections.get(namespace);
    // While a failure is being retried, the retry sweep takes this document along: no
    // point in each announcement trying the unreachable broker on its own.
    if (!collection || this.retryTimer) return;
    this.relayDocument(collection, id).catch((err: unknown) => {
      this.log.warn({ err, namespace, id }, 'outbox relay of a document failed; will retry');
      this.retrySoon();
    });
  }

  /**
   * Publishes the pending events of one document, oldest first, removing each only after
   * its confirm. A document being relayed already is relayed once more after the current
   * run (its outbox may have grown after the run read it); both callers get that result.
   */
  private relayDocument(collection: Collection<WithOutbox>, id: unknown): Promise<number> {
    const key = `${collection.namespace}\u0000${String(id)}`;
    const running = this.runs.get(key);
    if (running) {
      running.asked++;
      return running.done;
    }
    const run = { done: Promise.resolve(0), asked: 1 };
    this.runs.set(key, run);
    run.done = (async () => {
      let delivered = 0;
      try {
        let served = 0;
        while (served < run.asked) {
          served = run.asked;
          const doc = await collection.findOne({ _id: id } as Filter<WithOutbox>, {
            projection: { outbox: 1 },
          });
          for (const entry of doc?.outbox ?? []) {
            await this.publisher.publish(entry.exchange, entry.routingKey, entry.event);
            // The entry exactly as read: FerretDB's $pull matches whole values, not conditions.
            await collection.updateOne({ _id: id } as Filter<WithOutbox>, {
              $pull: { outbox: entry },
            });
            delivered++;
          }
        }
      } finally {
        this.runs.delete(key);
      }
      return delivered;
    })();
    return run.done;
  }

  /**
   * Scans every collection once and publishes whatever is pending, oldest document first.
   * Returns how many events went out (not counting a document that failed midway); stops
   * at the first failure, and then sweeps again soon.
   */
  relayOnce(): Promise<number> {
    this.sweeping ??= (async () => {
      let delivered = 0;
      try {
        for (const collection of this.collections.values()) {
          const pending = collection.find(
            { 'outbox.id': { $exists: true } },
            { projection: { _id: 1 } },
          );
          for await (const doc of pending)
            delivered += await this.relayDocument(collection, doc._id);
        }
      } catch (err) {
        this.log.warn({ err, delivered }, 'outbox relay paused; will retry');
        this.retrySoon();
      }
      return delivered;
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private retrySoon(): void {
    if (!this.started || this.retryTimer) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        // A sweep still running may have passed documents announced since the failure.
        void (this.sweeping ?? Promise.resolve()).then(() => this.relayOnce());
      },
      Math.min(OUTBOX_SWEEP_MS, this.sweepMs),
    );
    this.retryTimer.unref();
  }

  /** Sweeps every `sweepMs`, and takes the announcements for its collections. */
  start(): void {
    this.started = true;
    for (const namespace of this.collections.keys())
      relaysOf.set(namespace, [...(relaysOf.get(namespace) ?? []), this]);
    this.sweepTimer = setInterval(() => void this.relayOnce(), this.sweepMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const namespace of this.collections.keys()) {
      const others = (relaysOf.get(namespace) ?? []).filter((relay) => relay !== this);
      if (others.length > 0) relaysOf.set(namespace, others);
      else relaysOf.delete(namespace);
    }
    clearInterval(this.sweepTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.sweeping;
    await Promise.allSettled([...this.runs.values()].map((run) => run.done));
  }
}

export interface ConsumerOptions {
  /** Name of the consuming component: dedupe records are per consumer. */
  name: string;
  queue: string;
  prefetch?: number;
}

/** What a handler gets: the parsed event and the id to make its own writes idempotent. */
export type EventHandler = (event: EventEnvelope, message: ConsumeMessage) => Promise<void>;

/** Pause before a failed message goes back, by its earlier deliveries: 0.5 s, 1 s, 2 s … 10 s. */
const REDELIVERY: Backoff = { baseMs: 500, maxMs: 10_000 };
/** Pause before reconnecting, by the failed reconnects before: 0.5 s … 30 s, ±10 %. */
const RECONNECT: Backoff = { baseMs: 500, maxMs: 30_000, jitter: 0.1 };

export class PoisonMessage extends Error {
  override name = 'PoisonMessage';
}

function parseEvent(message: ConsumeMessage): EventEnvelope {
  try {
    const event = JSON.parse(message.content.toString('utf8')) as Partial<EventEnvelope>;
    if (typeof event.id !== 'string' || typeof event.type !== 'string')
      throw new Error('no id or type');
    return event as EventEnvelope;
  } catch (err) {
    throw new PoisonMessage(`not an event: ${(err as Error).message}`);
  }
}

export class Consumer {
  private model?: ChannelModel;
  private channel?: Channel;
  private readonly processed: Collection<{ _id: string; at: Date }>;

  constructor(
    private readonly url: string,
    db: Db,
    private readonly opts: ConsumerOptions,
    private readonly handler: EventHandler,
    private readonly log: Logger,
  ) {
    this.processed = db.collection('processed_messages');
  }

  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** Per event (`<consumer>:<event id>`): the copy being handled in this process. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private failedReconnects = 0;

  /** Connects and consumes; the first connection must succeed (start-up fails loudly). */
  async start(): Promise<void> {
    this.stopped = false;
    const model = await connect(this.url);
    this.model = model;
    // A broker restart or a dropped connection: consume again once it is back.
    model.on('close', () => {
      this.scheduleReconnect();
    });
    model.on('error', (err: unknown) => {
      this.log.warn({ err, queue: this.opts.queue }, 'AMQP consumer connection error');
    });
    const channel = await model.createChannel();
    this.channel = channel;
    await channel.prefetch(this.opts.prefetch ?? 10);
    await channel.checkQueue(this.opts.queue); // the operator declares it; we never do
    await channel.consume(this.opts.queue, (message) => {
      if (message) void this.handle(channel, message);
    });
    this.failedReconnects = 0;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = backoffDelay(this.failedReconnects, RECONNECT);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.start().then(
        () => this.log.info({ queue: this.opts.queue }, 'consumer reconnected'),
        (err: unknown) => {
          this.failedReconnects++;
          this.log.warn({ err, queue: this.opts.queue }, 'consumer reconnect failed; retrying');
          void this.model?.close().catch(() => undefined);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    let event: EventEnvelope;
    try {
      event = parseEvent(message);
    } catch (err) {
      this.log.error({ err, queue: this.opts.queue }, 'poison message; dead-lettering it');
      channel.nack(message, false, false);
      return;
    }
    const key = `${this.opts.name}:${event.id}`;
    // Two copies of one event delivered together would both find no record and both be
    // handled: a copy waits for the one in flight here, then finds its record.
    const earlier = this.inFlight.get(key);
    const turn = (async () => {
      await earlier?.catch(() => undefined);
      await this.handleOnce(channel, message, event, key);
    })();
    this.inFlight.set(key, turn);
    await turn;
    if (this.inFlight.get(key) === turn) this.inFlight.delete(key);
  }

  private async handleOnce(
    channel: Channel,
    message: ConsumeMessage,
    event: EventEnvelope,
    key: string,
  ): Promise<void> {
    try {
      if (await this.processed.findOne({ _id: key })) {
        channel.ack(message); // a redelivery of work already done
        return;
      }
      await this.handler(event, message);
      await this.processed.updateOne(
        { _id: key },
        { $setOnInsert: { at: new Date() } },
        { upsert: true },
      );
      channel.ack(message);
    } catch (err) {
      if (err instanceof PoisonMessage) {
        // The handler says no retry can help (the event breaks its contract).
        this.log.error(
          { err, eventId: event.id, queue: this.opts.queue },
          'poison event; dead-lettering it',
        );
        channel.nack(message, false, false);
        return;
      }
      // Back to the queue after a pause that grows with each delivery (a dependency that
      // is down gets time to come back); the queue's delivery limit dead-letters it after
      // the last try.
      const deliveries = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
      this.log.warn({ err, eventId: event.id, deliveries }, 'event handling failed');
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(deliveries, REDELIVERY)));
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel closed meanwhile: the broker redelivers the message anyway.
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.channel?.close().catch(() => undefined);
    await this.model?.close().catch(() => undefined);
  }
}
