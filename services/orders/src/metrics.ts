// Orders by their current status, for operators: gorten_orders{status}, counted at each
// scrape (one $group over the orders; FerretDB scans the collection for it) within the
// scrape's deadline. Every status has a series, 0 when no order has it; while the
// database is away there is no sample rather than a stale count.
import { gaugeReadAtScrape } from '@gorten/kit';
import type { Collection } from 'mongodb';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ORDER_STATUSES, type OrderDoc, type OrderStatus } from './store.js';

/** Counts by status, every status included (0 when none has it); unknown ones are left out. */
export function countsByStatus(
  groups: readonly { _id: unknown; n: number }[],
): [{ status: OrderStatus }, number][] {
  const counts = new Map<unknown, number>(groups.map((g) => [g._id, g.n]));
  return ORDER_STATUSES.map((status) => [{ status }, counts.get(status) ?? 0]);
}

export function ordersGauge(
  registry: Registry,
  orders: Collection<OrderDoc>,
  log: Pick<Logger, 'debug'>,
): void {
  gaugeReadAtScrape(
    registry,
    {
      name: 'gorten_orders',
      help: 'Orders by current status',
      labelNames: ['status'],
      read: async () =>
        countsByStatus(
          await orders
            .aggregate<{ _id: unknown; n: number }>([
              { $group: { _id: '$status', n: { $sum: 1 } } },
            ])
            .toArray(),
        ),
    },
    log,
  );
}
