// Publishing to RabbitMQ: every publish waits for the broker's confirm, and a failure
// throws — so a caller (the outbox relay) removes an event only once the broker has it.
// One confirm channel per process, opened on first use and again after it closed.
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';

export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  occurredAt: string;
  data: T;
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
