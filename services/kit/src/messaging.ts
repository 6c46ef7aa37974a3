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
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';

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

export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly collections: Collection<WithOutbox>[],
    private readonly publisher: Publisher,
    private readonly log: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  /**
   * Publishes every pending event once, oldest document first, removing each entry only
   * after its confirm. Returns how many were delivered; stops at the first failure.
   */
  relayOnce(): Promise<number> {
    this.running ??= (async () => {
      let delivered = 0;
      try {
        for (const collection of this.collections) {
          const pending = collection.find(
            { 'outbox.id': { $exists: true } },
            { projection: { outbox: 1 } },
          );
          for await (const doc of pending) {
            for (const entry of doc.outbox ?? []) {
              await this.publisher.publish(entry.exchange, entry.routingKey, entry.event);
              // The entry exactly as read: FerretDB's $pull matches whole values, not conditions.
              await collection.updateOne({ _id: doc._id }, { $pull: { outbox: entry } });
              delivered++;
            }
          }
        }
      } catch (err) {
        this.log.warn({ err, delivered }, 'outbox relay paused; will retry');
      }
      return delivered;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    this.timer = setInterval(() => void this.relayOnce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
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

/** Pause before a failed message goes back: 0.5 s, 1 s, 2 s … at most 10 s. */
export function retryDelayMs(previousDeliveries: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, previousDeliveries));
}

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
    const delay = Math.min(30_000, 500 * 2 ** this.failedReconnects) * (0.9 + Math.random() * 0.2);
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
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs(deliveries)));
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
