// The depths of the queues a service consumes, read from the broker at each scrape:
// gorten_consumer_lag_messages{queue} (messages ready in the work queue, not yet taken by
// a consumer) and gorten_dlq_messages{queue} (messages in its dead-letter queue). Both
// gauges share one read per scrape; a queue whose depths cannot be read now (the broker
// is away) has no sample in that scrape rather than a stale one.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { gaugeReadAtScrape } from '../metrics.js';

export interface QueueDepths {
  /** Messages ready in the queue itself. */
  ready: number;
  /** Messages in its dead-letter queue. */
  deadLettered: number;
}

/** A consumed queue whose depths can be asked for (a Consumer). */
export interface QueueSource {
  queue: string;
  depths(): Promise<QueueDepths>;
}

export function queueGauges(
  registry: Registry,
  sources: readonly QueueSource[],
  log: Pick<Logger, 'debug'>,
): void {
  // A scrape collects every metric at once: the second gauge takes the read in flight.
  let reading: Promise<[QueueSource, QueueDepths][]> | undefined;
  const depths = (): Promise<[QueueSource, QueueDepths][]> =>
    (reading ??= (async () => {
      const settled = await Promise.allSettled(sources.map((source) => source.depths()));
      return settled.flatMap((result, i): [QueueSource, QueueDepths][] => {
        const source = sources[i] as QueueSource;
        if (result.status === 'fulfilled') return [[source, result.value]];
        log.debug({ err: result.reason as unknown, queue: source.queue }, 'queue depths unknown');
        return [];
      });
    })().finally(() => {
      reading = undefined;
    }));
  gaugeReadAtScrape(
    registry,
    {
      name: 'gorten_consumer_lag_messages',
      help: 'Messages ready in each queue this service consumes, waiting for a consumer',
      labelNames: ['queue'],
      read: async () => (await depths()).map(([s, d]) => [{ queue: s.queue }, d.ready] as const),
    },
    log,
  );
  gaugeReadAtScrape(
    registry,
    {
      name: 'gorten_dlq_messages',
      help: 'Messages in the dead-letter queue of each work queue this service consumes',
      labelNames: ['queue'],
      read: async () =>
        (await depths()).map(([s, d]) => [{ queue: s.queue }, d.deadLettered] as const),
    },
    log,
  );
}
