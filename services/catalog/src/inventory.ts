// The inventory_update consumer: product events become per-product inventory records
// and per-company stock figures. A product falling to its low-stock threshold queues one
// notification (in the same update that records the fall) and counts one low-stock
// event (gorten_low_stock_events_total). Events carry the product's
// version: a stale or repeated one changes nothing, so redelivery and reordering are safe.
import {
  assertActsForCompany,
  isDuplicateKey,
  outboxEntry,
  PoisonMessage,
  type EventEnvelope,
  type Principal,
} from '@gorten/kit';
import type { CatalogDeps } from './deps.js';
import { productEvent, type LowStockNotice, type ProductEvent } from './schemas.js';
import type { InventoryDoc } from './store.js';

/** Low: still sold (not archived) and at or under its threshold. */
export function isLow(
  event: Pick<ProductEvent, 'status' | 'stock' | 'lowStockThreshold'>,
): boolean {
  return event.status !== 'archived' && event.stock <= event.lowStockThreshold;
}

export async function applyProductEvent(deps: CatalogDeps, envelope: EventEnvelope): Promise<void> {
  const parsed = productEvent.safeParse(envelope.data);
  if (!parsed.success)
    throw new PoisonMessage(`${envelope.type} ${envelope.id}: ${parsed.error.message}`);
  const event = parsed.data;
  const low = isLow(event);
  const notice: LowStockNotice = {
    companyId: event.companyId,
    productId: event.productId,
    sku: event.sku,
    name: event.name,
    stock: event.stock,
    threshold: event.lowStockThreshold,
  };
  // Compare-and-set on the version read: events of one product handled at the same time
  // (prefetch > 1) cannot both decide the product "fell low" and notify twice.
  let fell: boolean;
  for (;;) {
    const previous = await deps.store.inventory.findOne({ _id: event.productId });
    if (previous && previous.version >= event.version) return; // stale or already applied
    const record: Omit<InventoryDoc, '_id' | 'outbox'> = {
      companyId: event.companyId,
      sku: event.sku,
      name: event.name,
      stock: event.stock,
      threshold: event.lowStockThreshold,
      status: event.status,
      low,
      version: event.version,
      updatedAt: deps.now(),
    };
    const outbox =
      low && !previous?.low
        ? [
            outboxEntry(
              'notification_exchange',
              'inventory.low_stock',
              'inventory.low_stock',
              notice,
            ),
          ]
        : [];
    fell = outbox.length > 0; // as of the write that ends the loop
    if (previous) {
      const written = await deps.store.inventory.updateOne(
        { _id: event.productId, version: previous.version },
        { $set: record, ...(outbox.length > 0 ? { $push: { outbox: { $each: outbox } } } : {}) },
      );
      if (written.matchedCount === 1) break;
    } else {
      try {
        await deps.store.inventory.insertOne({ _id: event.productId, ...record, outbox });
        break;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
  }
  if (fell) deps.metrics.lowStockEvents.inc();
  await recomputeCompanyStock(deps, event.companyId);
}

/**
 * The company's figures from its records: idempotent however often it runs. Summed here
 * rather than by $group: FerretDB 1.24 sums a field path to 0.
 */
export async function recomputeCompanyStock(deps: CatalogDeps, companyId: string): Promise<void> {
  const records = await deps.store.inventory
    .find({ companyId, status: { $ne: 'archived' } }, { projection: { stock: 1, low: 1 } })
    .toArray();
  await deps.store.companyStock.updateOne(
    { _id: companyId },
    {
      $set: {
        products: records.length,
        units: records.reduce((sum, r) => sum + r.stock, 0),
        lowStock: records.filter((r) => r.low).length,
        updatedAt: deps.now(),
      },
    },
    { upsert: true },
  );
}

export async function companyInventory(deps: CatalogDeps, principal: Principal, companyId: string) {
  assertActsForCompany(principal, companyId);
  const figures = await deps.store.companyStock.findOne({ _id: companyId });
  const low = await deps.store.inventory
    .find({ companyId, low: true }, { projection: { outbox: 0 } })
    .sort({ stock: 1, _id: 1 })
    .limit(100)
    .toArray();
  return {
    companyId,
    products: figures?.products ?? 0,
    units: figures?.units ?? 0,
    lowStock: figures?.lowStock ?? 0,
    lowStockProducts: low.map((r) => ({
      productId: r._id,
      sku: r.sku,
      name: r.name,
      stock: r.stock,
      threshold: r.threshold,
    })),
    updatedAt: figures?.updatedAt.toISOString() ?? null,
  };
}
