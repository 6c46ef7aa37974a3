// The transactional outbox without transactions: an event is written into the same
// document as the change it reports (one atomic update), and a relay publishes pending
// events and only then removes them (those of a document in one write) — so an event is
// never lost, and a broker outage (or a binding deleted by hand) only delays it. A writer
// announces its write through the `Outbox` port in its dependencies, so that its
// service's relay publishes it at once.
// An entry keeps the trace it was written in, which its publish continues, however late.
import { randomUUID } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Collection, Filter } from 'mongodb';
import type { Logger } from 'pino';
import { currentTraceContext, type TraceContextFields } from '../trace-context.js';
import { UnroutableMessage, type EventEnvelope, type Publisher } from './publisher.js';

export interface OutboxEntry {
  id: string;
  exchange: string;
  routingKey: string;
  event: EventEnvelope;
  /** The trace of the work that wrote it (none outside a trace, or from before tracing). */
  trace?: TraceContextFields;
}

/** A new outbox entry; `$push` it in the same update as the change it reports. */
export function outboxEntry(
  exchange: string,
  routingKey: string,
  type: string,
  data: unknown,
): OutboxEntry {
  const id = randomUUID();
  const trace = currentTraceContext();
  return {
    id,
    exchange,
    routingKey,
    event: { id, type, occurredAt: new Date().toISOString(), data },
    ...(trace && { trace }),
  };
}

/** Documents that may carry pending events in an `outbox` array. */
export interface WithOutbox {
  outbox?: OutboxEntry[];
}

/**
 * Where a writer that appended to a document's outbox says so, after its write: the relay
 * of its service (`ServiceBase.outbox`) publishes that document now, or — when that relay
 * does not cover the collection — the next sweep somewhere does. A writer whose write
 * returned the document's outbox as it left it (an insert, a findOneAndUpdate) passes it
 * as `written`: the relay publishes from it instead of reading the document again. Never
 * throws.
 */
export interface Outbox {
  announce(collection: { namespace: string }, id: string, written?: OutboxEntry[]): void;
}

/** The port of a service without a relay: announcements wait for a sweep elsewhere. */
export const noOutbox: Outbox = { announce: () => undefined };

/** How often a relay scans its collections whole unless told otherwise. */
export const OUTBOX_SWEEP_MS = 1_000;

/** One document's relay in progress (see OutboxRelay.runs). */
interface DocumentRun {
  done: Promise<number>;
  asked: number;
  next?: OutboxEntry[] | 'read';
}

/**
 * Publishes outbox events in two ways, both through the same per-document path:
 * - announced: it is the `Outbox` of its service; a writer calls `announce(collection, id)`
 *   after its write, and the relay publishes that document's events at once (reads and
 *   updates by `_id` only; no read when the writer passed the outbox its write left);
 * - swept: every `sweepMs` the relay scans its collections whole for pending events — the
 *   safety net for writes nobody announced (another process, a crash between the write
 *   and the announcement, a writer that does not announce). After a failure (the broker
 *   is away) it sweeps again within a second instead of waiting for the next sweep.
 * Guarantees either way: an entry is removed only after the broker confirmed it (at
 * least once), and one document's entries go out in order, one run per document at a
 * time.
 */
export class OutboxRelay implements Outbox {
  private sweepTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;
  private started = false;
  private readonly collections: Map<string, Collection<WithOutbox>>;
  /**
   * The document runs in progress, how often each document was asked for, and what the
   * next pass publishes from: the outbox an announcement during this pass carried, when it
   * was the pass's one ask (`read`: read the document, as for any other ask).
   */
  private readonly runs = new Map<string, DocumentRun>();

  constructor(
    collections: Collection<WithOutbox>[],
    private readonly publisher: Pick<Publisher, 'publish'>,
    private readonly log: Logger,
    private readonly sweepMs = OUTBOX_SWEEP_MS,
  ) {
    this.collections = new Map(collections.map((c) => [c.namespace, c]));
  }

  /**
   * Publishes the document now if this relay runs (between `start` and `stop`) and covers
   * its collection; otherwise leaves it to a sweep.
   */
  announce({ namespace }: { namespace: string }, id: string, written?: OutboxEntry[]): void {
    const collection = this.collections.get(namespace);
    // While a failure is being retried, the retry sweep takes this document along: no
    // point in each announcement trying the unreachable broker on its own.
    if (!this.started || !collection || this.retryTimer) return;
    // Out of the writer's trace: the publish continues the entry's own, and the relay's
    // reads and removals belong to no request.
    context
      .with(ROOT_CONTEXT, () => this.relayDocument(collection, id, written))
      .catch((err: unknown) => {
        this.log.warn({ err, namespace, id }, 'outbox relay of a document failed; will retry');
        this.retrySoon();
      });
  }

  /**
   * Publishes the pending events of one document, oldest first, and removes the ones
   * confirmed, in one write per pass (also when a later one failed). A document being
   * relayed already is relayed once more after the current run (its outbox may have grown
   * after the run read it); both callers get that result.
   * `written` stands for the read of the pass it asks for: the outbox as the write that
   * announced it left it, in order — as a read right after that write would have found it,
   * less what this run published since (an entry another relay removed meanwhile goes out
   * once more: at least once, as two relays reading at once would do). A pass asked for
   * more than once, or without it, reads the document.
   */
  private relayDocument(
    collection: Collection<WithOutbox>,
    id: unknown,
    written?: OutboxEntry[],
  ): Promise<number> {
    const key = `${collection.namespace}\u0000${String(id)}`;
    const running = this.runs.get(key);
    if (running) {
      running.next = running.next === undefined && written ? written : 'read';
      running.asked++;
      return running.done;
    }
    const run: DocumentRun = {
      done: Promise.resolve(0),
      asked: 1,
      next: written,
    };
    this.runs.set(key, run);
    run.done = (async () => {
      let delivered = 0;
      const published = new Set<string>();
      try {
        let served = 0;
        while (served < run.asked) {
          served = run.asked;
          const { next } = run;
          run.next = undefined;
          const pending =
            next && next !== 'read'
              ? next.filter((entry) => !published.has(entry.id))
              : (
                  await collection.findOne({ _id: id } as Filter<WithOutbox>, {
                    projection: { outbox: 1 },
                  })
                )?.outbox;
          // The pass's entries go out in order, each confirmed, and are removed together:
          // one write per pass, however many events the document carries.
          const confirmed: OutboxEntry[] = [];
          let publishFailed = true;
          try {
            for (const entry of pending ?? []) {
              await this.publisher.publish(
                entry.exchange,
                entry.routingKey,
                entry.event,
                entry.trace,
              );
              confirmed.push(entry);
            }
            publishFailed = false;
          } finally {
            // Also when a later one failed: what was confirmed is not published again.
            if (confirmed.length > 0) {
              // The entries exactly as read: FerretDB matches whole values, not conditions.
              const removal = collection
                .updateOne({ _id: id } as Filter<WithOutbox>, { $pullAll: { outbox: confirmed } })
                .then(() => {
                  for (const entry of confirmed) published.add(entry.id);
                  delivered += confirmed.length;
                });
              // After a failed publish, its error is the one that says what to do (an
              // unroutable event is set aside); a removal failing too only means a later
              // pass sends the confirmed ones again.
              if (publishFailed) await removal.catch(() => undefined);
              else await removal;
            }
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
    // Out of whatever trace set off a retry: each publish continues its entry's own.
    this.sweeping ??= context
      .with(ROOT_CONTEXT, async () => {
        let delivered = 0;
        try {
          for (const collection of this.collections.values()) {
            const pending = collection.find(
              { 'outbox.id': { $exists: true } },
              { projection: { _id: 1 } },
            );
            for await (const doc of pending) {
              try {
                delivered += await this.relayDocument(collection, doc._id);
              } catch (err) {
                // The broker is there but routes this event nowhere (a binding deleted by
                // hand, back at the operator's next resync): the other documents go on.
                if (!(err instanceof UnroutableMessage)) throw err;
                this.log.warn({ err, id: doc._id }, 'outbox event unroutable; will retry');
                this.retrySoon();
              }
            }
          }
        } catch (err) {
          this.log.warn({ err, delivered }, 'outbox relay paused; will retry');
          this.retrySoon();
        }
        return delivered;
      })
      .finally(() => {
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
    this.sweepTimer = setInterval(() => void this.relayOnce(), this.sweepMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearInterval(this.sweepTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.sweeping;
    await Promise.allSettled([...this.runs.values()].map((run) => run.done));
  }
}
