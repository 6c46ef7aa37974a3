// Publishing to RabbitMQ: every publish waits for the broker's confirm, and a failure
// throws — so a caller (the outbox relay) removes an event only once the broker has it.
// Publishes are mandatory: a message no queue is bound for (a binding deleted by hand)
// comes back as basic.return and fails too, instead of being confirmed and dropped.
// One confirm channel per process, opened on first use and again after it closed.
// Publishing an event is a PRODUCER span in the trace the event was written in (its
// outbox entry's), and the message carries that span's traceparent in its headers.
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { connect, type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import type { Logger } from 'pino';
import { recordFailure } from '../spans.js';
import { continueTrace, injectTrace, type TraceContextFields } from '../trace-context.js';
import { NO_TRACING, type Tracing } from '../tracing.js';
import { messagingAttributes } from './span-attributes.js';
import { defaultTextMapGetter } from '@opentelemetry/api';

export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  data: T;
}

/** AMQP properties of a publish; the message id is what a return is matched by. */
export type PublishProperties = Omit<Options.Publish, 'mandatory'>;

export class UnroutableMessage extends Error {
  override name = 'UnroutableMessage';
}

/** A confirm channel and the returns it received that no confirm has answered yet. */
interface PublishChannel {
  channel: ConfirmChannel;
  /**
   * Returned messages by message id ('' for none), counted: the broker sends a message's
   * return before its confirm, so its confirm callback finds it here.
   */
  returned: Map<string, number>;
}

export class Publisher {
  private model?: ChannelModel;
  private channel?: Promise<PublishChannel>;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly tracing: Tracing = NO_TRACING,
  ) {}

  private confirmChannel(): Promise<PublishChannel> {
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
      const returned = new Map<string, number>();
      channel.on('return', (message: { properties: { messageId?: string } }) => {
        const id = message.properties.messageId ?? '';
        returned.set(id, (returned.get(id) ?? 0) + 1);
      });
      return { channel, returned };
    })().catch((err: unknown) => {
      this.channel = undefined;
      throw err;
    });
    return this.channel;
  }

  /**
   * Publishes an event; resolves once the broker has confirmed and routed it. `origin` is
   * the trace the event was written in (its outbox entry's): the publish continues it, or
   * starts a trace of its own without one.
   */
  async publish(
    exchange: string,
    routingKey: string,
    event: EventEnvelope,
    origin?: TraceContextFields,
  ): Promise<void> {
    const content = Buffer.from(JSON.stringify(event));
    const properties: PublishProperties = {
      persistent: true,
      messageId: event.id,
      type: event.type,
      contentType: 'application/json',
      timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
    };
    if (!this.tracing.enabled) return this.send(exchange, routingKey, content, properties);
    const base = this.tracing.bind(ROOT_CONTEXT);
    const parent = origin ? continueTrace(base, origin, defaultTextMapGetter) : base;
    const span = this.tracing.tracer.startSpan(
      `publish ${exchange}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: messagingAttributes({
          operation: 'publish',
          exchange,
          routingKey,
          messageId: event.id,
        }),
      },
      parent,
    );
    const headers: Record<string, unknown> = {};
    injectTrace(trace.setSpan(parent, span), headers);
    try {
      await this.send(exchange, routingKey, content, { ...properties, headers });
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Publishes bytes as they are (a consumer sending a message on to another queue);
   * resolves once the broker has confirmed it, rejects if it was not confirmed or reached
   * no queue (`UnroutableMessage`).
   */
  async send(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: PublishProperties,
  ): Promise<void> {
    const { channel, returned } = await this.confirmChannel();
    await new Promise<void>((resolve, reject) => {
      channel.publish(
        exchange,
        routingKey,
        content,
        { ...properties, mandatory: true },
        (err: unknown) => {
          const id = properties.messageId ?? '';
          const returns = returned.get(id) ?? 0;
          if (returns > 0) {
            if (returns === 1) returned.delete(id);
            else returned.set(id, returns - 1);
          }
          if (err) reject(err instanceof Error ? err : new Error('publish not confirmed'));
          else if (returns > 0)
            reject(
              new UnroutableMessage(
                `no queue is bound to exchange "${exchange}" for routing key "${routingKey}"`,
              ),
            );
          else resolve();
        },
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
