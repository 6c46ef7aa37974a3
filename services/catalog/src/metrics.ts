// The catalog's figure for operators: gorten_low_stock_events_total, one for each time a
// product fell to its low-stock threshold — counted where the inventory consumer records
// the fall (the same write queues the seller's notice), so a redelivered or stale event
// counts nothing.
import { Counter, type Registry } from 'prom-client';

export class CatalogMetrics {
  readonly lowStockEvents: Counter;

  constructor(registry: Registry) {
    this.lowStockEvents = new Counter({
      name: 'gorten_low_stock_events_total',
      help: 'Times a product fell to its low-stock threshold (each queues a notice to its seller)',
      registers: [registry],
    });
  }
}
