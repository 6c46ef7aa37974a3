// gorten_outbox_oldest_entry_age_seconds{collection}: how long the oldest event still
// waiting in a collection's outbox has waited (0 when none waits) — it grows while the
// broker is away or a binding is missing. Read at each scrape: one query per collection,
// the pending documents by the age of their first entry (a document's entries are in the
// order they were written, so its first is its oldest). FerretDB scans the collection for
// it, as every relay sweep does; the scrape's deadline bounds the wait.
import type { Collection } from 'mongodb';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { gaugeReadAtScrape } from '../metrics.js';
import type { WithOutbox } from './outbox.js';

/** Seconds since `occurredAt` (an ISO time), 0 for none or one in the future (a skewed clock). */
export function entryAgeSeconds(occurredAt: string | undefined, now: Date): number {
  if (occurredAt === undefined) return 0;
  const age = (now.getTime() - Date.parse(occurredAt)) / 1000;
  return Number.isFinite(age) && age > 0 ? age : 0;
}

/** The `occurredAt` of the oldest pending entry in `collection`, if any. */
export async function oldestPendingEntry(
  collection: Collection<WithOutbox>,
): Promise<string | undefined> {
  const [oldest] = await collection
    .find({ 'outbox.id': { $exists: true } }, { projection: { 'outbox.event.occurredAt': 1 } })
    .sort({ 'outbox.0.event.occurredAt': 1 })
    .limit(1)
    .toArray();
  return oldest?.outbox?.[0]?.event.occurredAt;
}

export function outboxAgeGauge(
  registry: Registry,
  collections: readonly Collection<WithOutbox>[],
  log: Pick<Logger, 'debug'>,
  now: () => Date = () => new Date(),
): void {
  gaugeReadAtScrape(
    registry,
    {
      name: 'gorten_outbox_oldest_entry_age_seconds',
      help: 'Age of the oldest event waiting in each outbox collection this service relays (0 when none waits)',
      labelNames: ['collection'],
      read: () =>
        Promise.all(
          collections.map(
            async (c) =>
              [
                { collection: c.collectionName },
                entryAgeSeconds(await oldestPendingEntry(c), now()),
              ] as const,
          ),
        ),
    },
    log,
  );
}
