// What happens to a message after its consumer gave up on it for now or for good: the
// properties a message keeps when it is sent on (to its retry queue, or back from its
// dead-letter queue), and the re-drive that moves a dead-letter queue back into its work
// queue. (Their depth, gorten_dlq_messages{queue}, is read in queue-metrics.ts.)
import { connect, type Channel, type MessageProperties } from 'amqplib';
import type { Logger } from 'pino';
import { deadLetterQueueOf } from '../tenant-contract.js';
import { Publisher, type PublishProperties } from './publisher.js';

/** How often a message was sent to its retry queue since it was last handled or re-driven. */
export const RETRIES_HEADER = 'x-dependency-retries';

/** Headers the broker adds when it dead-letters or redelivers; a message sent on starts afresh. */
function isBrokerHeader(name: string): boolean {
  return (
    name === 'x-death' ||
    name === 'x-delivery-count' ||
    name.startsWith('x-first-death-') ||
    name.startsWith('x-last-death-') ||
    name === 'CC' ||
    name === 'BCC'
  );
}

/**
 * A received message's properties for sending it on: what its publisher set (id, type,
 * content type, timestamp, persistence), without the broker's dead-letter and delivery
 * headers, with `headers` set or (undefined) removed.
 */
export function forwardedProperties(
  properties: MessageProperties,
  headers: Record<string, unknown> = {},
): PublishProperties {
  const kept = Object.fromEntries(
    Object.entries(properties.headers ?? {}).filter(([name]) => !isBrokerHeader(name)),
  );
  const merged = Object.fromEntries(
    Object.entries({ ...kept, ...headers }).filter(([, value]) => value !== undefined),
  );
  // amqplib gives every property, unset ones as undefined.
  return {
    persistent: properties.deliveryMode !== 1,
    messageId: properties.messageId as string | undefined,
    type: properties.type as string | undefined,
    contentType: properties.contentType as string | undefined,
    contentEncoding: properties.contentEncoding as string | undefined,
    correlationId: properties.correlationId as string | undefined,
    appId: properties.appId as string | undefined,
    timestamp: properties.timestamp as number | undefined,
    headers: merged,
  };
}

/**
 * Moves the messages in `queue`'s dead-letter queue back into `queue` (through the
 * default exchange, so no other queue bound to the original exchange sees them again),
 * each once: as many as the dead-letter queue held when it started, so a message that
 * fails again meanwhile is not taken a second time. A message leaves the dead-letter
 * queue only after the broker confirmed it in `queue`. Returns how many moved.
 */
export async function redrive(url: string, queue: string, log: Logger): Promise<number> {
  const dlq = deadLetterQueueOf(queue);
  const publisher = new Publisher(url, log);
  const model = await connect(url);
  try {
    const channel = await model.createChannel();
    const moved = await moveAll(channel, queue, dlq, publisher);
    // Closed before the connection, and waited for: the broker has taken every ack when
    // it answers (a connection closed at once can lose the last ones, and the DLQ keeps
    // messages it sent already).
    await channel.close();
    return moved;
  } finally {
    await model.close().catch(() => undefined);
    await publisher.close();
  }
}

async function moveAll(
  channel: Channel,
  queue: string,
  dlq: string,
  publisher: Publisher,
): Promise<number> {
  await channel.checkQueue(queue); // nothing leaves the DLQ for a queue that is not there
  const { messageCount } = await channel.checkQueue(dlq);
  let moved = 0;
  while (moved < messageCount) {
    const message = await channel.get(dlq, { noAck: false });
    if (message === false) break;
    try {
      await publisher.send(
        '',
        queue,
        message.content,
        forwardedProperties(message.properties, { [RETRIES_HEADER]: undefined }),
      );
    } catch (err) {
      channel.nack(message, false, true);
      throw err;
    }
    channel.ack(message);
    moved++;
  }
  return moved;
}
