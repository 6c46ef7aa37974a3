// Consuming from RabbitMQ: manual ack after the work is stored, dedupe by message id. A
// failure is one of three kinds (dependency.ts tells them apart):
// - a dependency is away (the database, the mail relay): the message is sent to its
//   queue's retry queue to wait a growing pause there, and comes back as a new delivery,
//   so an outage of any length uses up none of its delivery attempts;
// - the handler failed otherwise: redelivered after a growing pause until the queue's
//   delivery limit dead-letters it;
// - poison (unparseable, or `PoisonMessage`): to the dead-letter queue at once.
// A dropped connection is reconnected with backoff. Handling a delivery is a CONSUMER
// span that continues the trace its traceparent header names (a malformed one: a new trace).
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { Collection, Db } from 'mongodb';
import type { Logger } from 'pino';
import { backoffDelay, type Backoff } from '../backoff.js';
import { isDependencyFailure } from '../dependency.js';
import { recordFailure } from '../spans.js';
import { amqpHeaderGetter, continueTrace } from '../trace-context.js';
import { NO_TRACING, type Tracing } from '../tracing.js';
import { deadLetterQueueOf, retryQueueOf, RETRY_QUEUE_TTL_MS } from '../tenant-contract.js';
import { forwardedProperties, RETRIES_HEADER } from './dead-letters.js';
import type { QueueDepths, QueueSource } from './queue-metrics.js';
import type { EventEnvelope, Publisher } from './publisher.js';
import { messagingAttributes } from './span-attributes.js';

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
/** A message's wait in its retry queue, by its earlier retries: 1 s, 2 s … 30 s, ±10 %. */
const DEPENDENCY_RETRY: Backoff = { baseMs: 1_000, maxMs: RETRY_QUEUE_TTL_MS, jitter: 0.1 };
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

/** Marks the delivery's span (the active one) failed; the delivery itself goes on. */
function deliveryFailed(err: unknown): void {
  const span = trace.getActiveSpan();
  if (span) recordFailure(span, err);
}

/** Every consumer's record of the messages it handled (`<consumer>:<event id>`, when). */
const PROCESSED_MESSAGES = 'processed_messages';

export class Consumer implements QueueSource {
  private model?: ChannelModel;
  private channel?: Channel;
  private readonly processed: Collection<{ _id: string; at: Date }>;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  private failedReconnects = 0;
  /** Per event (`<consumer>:<event id>`): the copy being handled in this process. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly url: string,
    db: Db,
    private readonly opts: ConsumerOptions,
    private readonly handler: EventHandler,
    /** Sends a message to its retry queue (the service's publisher). */
    private readonly publisher: Pick<Publisher, 'send'>,
    private readonly log: Logger,
    private readonly tracing: Tracing = NO_TRACING,
  ) {
    this.processed = db.collection(PROCESSED_MESSAGES);
  }

  get queue(): string {
    return this.opts.queue;
  }

  /** Messages ready in this queue and in its dead-letter queue now (on a channel of its
   * own: a failed passive check closes the channel it ran on). */
  async depths(): Promise<QueueDepths> {
    if (!this.model) throw new Error('not connected');
    const channel = await this.model.createChannel();
    try {
      const ready = (await channel.checkQueue(this.opts.queue)).messageCount;
      const dlq = await channel.checkQueue(deadLetterQueueOf(this.opts.queue));
      return { ready, deadLettered: dlq.messageCount };
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

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
      if (message) void this.traced(channel, message);
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

  /** Handles a delivery inside its CONSUMER span. */
  private async traced(channel: Channel, message: ConsumeMessage): Promise<void> {
    if (!this.tracing.enabled) return this.handle(channel, message);
    const { queue, name } = this.opts;
    const parent = continueTrace(
      this.tracing.bind(ROOT_CONTEXT),
      message.properties.headers,
      amqpHeaderGetter,
    );
    const span = this.tracing.tracer.startSpan(
      `process ${queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: messagingAttributes({
          operation: 'process',
          exchange: message.fields.exchange,
          routingKey: message.fields.routingKey,
          consumerGroup: name,
          ...(typeof message.properties.messageId === 'string'
            ? { messageId: message.properties.messageId }
            : {}),
        }),
      },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => this.handle(channel, message));
    } finally {
      span.end();
    }
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    let event: EventEnvelope;
    try {
      event = parseEvent(message);
    } catch (err) {
      deliveryFailed(err);
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
      deliveryFailed(err);
      if (err instanceof PoisonMessage) {
        // The handler says no retry can help (the event breaks its contract).
        this.log.error(
          { err, eventId: event.id, queue: this.opts.queue },
          'poison event; dead-lettering it',
        );
        channel.nack(message, false, false);
        return;
      }
      if (isDependencyFailure(err)) {
        await this.retryLater(channel, message, event, err);
        return;
      }
      await this.redeliverAfterPause(channel, message, event, err);
    }
  }

  /**
   * A dependency is away: the message waits in the retry queue (its TTL dead-letters it
   * back here) and this delivery is acked once the broker has the copy. A crash between
   * the two leaves both, and the dedupe record lets only one be handled. Without a retry
   * queue to take it (a topology from before retry queues) it is redelivered as a failure.
   */
  private async retryLater(
    channel: Channel,
    message: ConsumeMessage,
    event: EventEnvelope,
    err: unknown,
  ): Promise<void> {
    const retries = Number(message.properties.headers?.[RETRIES_HEADER] ?? 0);
    const delayMs = Math.round(backoffDelay(retries, DEPENDENCY_RETRY));
    const { queue } = this.opts;
    this.log.warn(
      { err, eventId: event.id, queue, retries, delayMs },
      'a dependency is unavailable; the event waits in the retry queue',
    );
    try {
      await this.publisher.send('', retryQueueOf(queue), message.content, {
        ...forwardedProperties(message.properties, { [RETRIES_HEADER]: retries + 1 }),
        expiration: String(delayMs),
      });
    } catch (sendErr) {
      this.log.warn({ err: sendErr, queue }, 'the retry queue did not take the event');
      await this.redeliverAfterPause(channel, message, event, err);
      return;
    }
    try {
      channel.ack(message);
    } catch {
      // The channel closed meanwhile: the broker redelivers it, and the dedupe record
      // lets only one of the two copies be handled.
    }
  }

  /**
   * Back to the queue after a pause that grows with each delivery; the queue's delivery
   * limit dead-letters it after the last try.
   */
  private async redeliverAfterPause(
    channel: Channel,
    message: ConsumeMessage,
    event: EventEnvelope,
    err: unknown,
  ): Promise<void> {
    const deliveries = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
    this.log.warn({ err, eventId: event.id, deliveries }, 'event handling failed');
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(deliveries, REDELIVERY)));
    try {
      channel.nack(message, false, true);
    } catch {
      // The channel closed meanwhile: the broker redelivers the message anyway.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.channel?.close().catch(() => undefined);
    await this.model?.close().catch(() => undefined);
  }
}

/**
 * Forgets the messages handled before `before` (FerretDB has no TTL indexes, so a
 * periodic task calls this): a copy delivered again after that would be handled again,
 * so the retention must outlast any redelivery. Returns how many were forgotten.
 */
export async function pruneProcessedMessages(db: Db, before: Date): Promise<number> {
  const forgotten = await db.collection(PROCESSED_MESSAGES).deleteMany({ at: { $lt: before } });
  return forgotten.deletedCount;
}
