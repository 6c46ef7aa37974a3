// Stock reservations, the catalog's part of a checkout (checkout calls these in-process;
// the catalog package stays the one place that changes stock). A reservation takes
// stock with one conditional update — `stock >= quantity`, and not already reserved by
// this reservation id — so concurrent checkouts can never take it below zero and a
// repeated call takes nothing twice. It lives in the product document with an expiry
// until it is committed (the order is paid: the stock stays taken) or released (the
// checkout failed, or the reservation expired: the stock comes back). Each of the three is
// a span (`catalog.stock reserve|commit|release`) in the trace of the checkout asking.
// "Not already" is a $nor of the equality: FerretDB 1.24 matches `{'a.b': {$ne: x}}` (and
// $nin, $not $elemMatch) when any element of `a` differs, not when none equals.
// A caller that read the product just before (checkout priced it) reserves in one update
// with its product.updated event, and commits the reservation it made without reading it.
import { spanned, type Outbox, type OutboxEntry, type ReadCache } from '@gorten/kit';
import { trace } from '@opentelemetry/api';
import type { Collection, Db } from 'mongodb';
import { productEventEntry } from './products.js';
import { productsChanged } from './cache-generations.js';
import type { ProductEvent } from './schemas.js';
import { catalogStore, type ProductDoc, type StockReservation } from './store.js';

export interface StockModule {
  products: Collection<ProductDoc>;
  /** Told of every product event a stock change writes. */
  outbox: Outbox;
  /**
   * The catalog's read cache: a cached product holds its stock and version, so each
   * stock change bumps its generations (cache-generations.ts) before the caller goes on.
   */
  cache: ReadCache;
  now: () => Date;
}

/** The stock module on the tenant's database, for checkout. */
export function createStockModule(db: Db, outbox: Outbox, cache: ReadCache): StockModule {
  return { products: catalogStore(db).products, outbox, cache, now: () => new Date() };
}

/** The entry a reservation leaves in its product (what commitReservation's `made` is). */
export function reservationEntry(id: string, quantity: number, expiresAt: Date): StockReservation {
  return { id, quantity, expiresAt };
}

export type ReserveOutcome = 'reserved' | 'already_reserved' | 'insufficient' | 'unavailable';

/**
 * The stock change is one atomic update; the product.updated event that reports it is a
 * second update on the same document (its figures are known only after the first). If
 * the process dies between the two, the product's next event carries the newer state.
 * Events are coalesced: every one carries the whole product, and the inventory consumer
 * keeps only the newest version, so a pending older product.updated is replaced rather
 * than joined — a best-seller's outbox stays at one entry however long the broker is away.
 * The outbox port is told at once (checkout sweeps its outboxes rarely).
 */
async function reportChange(stock: StockModule, after: ProductDoc | null): Promise<void> {
  if (!after) return;
  const entry = productEventEntry(after, 'product.updated');
  for (;;) {
    const doc = await stock.products.findOne({ _id: after._id }, { projection: { outbox: 1 } });
    const pending = (doc?.outbox ?? []).filter((e) => e.routingKey === 'product.updated');
    if (pending.some((e) => versionOf(e) >= after.version)) break; // a newer figure is on its way
    // The entries exactly as read: FerretDB's $pull matches whole values. One the relay is
    // publishing right now still goes out; the consumer drops it as older.
    for (const stale of pending)
      await stock.products.updateOne({ _id: after._id }, { $pull: { outbox: stale } });
    // Pushed only while no product.updated is pending: a concurrent change that got in
    // first is compared again above.
    const pushed = await stock.products.updateOne(
      { _id: after._id, $nor: [{ 'outbox.routingKey': 'product.updated' }] },
      { $push: { outbox: entry } },
    );
    if (pushed.matchedCount === 1) break;
  }
  stock.outbox.announce(stock.products, after._id);
}

/**
 * The reservation as one update with its event, when the caller read the product shortly
 * before (`seen`): the event's figures follow from that read, so the update applies only
 * while the product is still at that version and has no product.updated pending (the
 * coalescing of reportChange). Null when it moved on: the caller reserves as usual.
 */
async function reserveAsSeen(
  stock: StockModule,
  seen: ProductDoc,
  reservation: StockReservation,
): Promise<ProductDoc | null> {
  const now = stock.now();
  const { outbox: _outbox, reservations: _reservations, ...product } = seen;
  const next = {
    ...product,
    stock: seen.stock - reservation.quantity,
    version: seen.version + 1,
    updatedAt: now,
  };
  const after = await stock.products.findOneAndUpdate(
    {
      _id: seen._id,
      version: seen.version,
      status: 'active',
      stock: { $gte: reservation.quantity },
      $nor: [{ 'reservations.id': reservation.id }, { 'outbox.routingKey': 'product.updated' }],
    },
    {
      $inc: { stock: -reservation.quantity, version: 1 },
      $push: { reservations: reservation, outbox: productEventEntry(next, 'product.updated') },
      $set: { updatedAt: now },
    },
    { returnDocument: 'after' },
  );
  if (!after) return null;
  await productsChanged(stock.cache, [seen._id]);
  stock.outbox.announce(stock.products, seen._id, after.outbox);
  return after;
}

function versionOf(entry: OutboxEntry): number {
  return (entry.event.data as Pick<ProductEvent, 'version'>).version;
}

async function reserve(
  stock: StockModule,
  productId: string,
  quantity: number,
  reservationId: string,
  expiresAt: Date,
  /** The product as the caller read it shortly before, if it did. */
  seen?: ProductDoc,
): Promise<ReserveOutcome> {
  const reservation = reservationEntry(reservationId, quantity, expiresAt);
  if (seen?._id === productId && (await reserveAsSeen(stock, seen, reservation))) return 'reserved';
  const after = await stock.products.findOneAndUpdate(
    {
      _id: productId,
      status: 'active',
      stock: { $gte: quantity },
      $nor: [{ 'reservations.id': reservationId }],
    },
    {
      $inc: { stock: -quantity, version: 1 },
      $push: { reservations: reservation },
      $set: { updatedAt: stock.now() },
    },
    { returnDocument: 'after' },
  );
  if (after) {
    await productsChanged(stock.cache, [productId]);
    await reportChange(stock, after);
    return 'reserved';
  }
  const product = await stock.products.findOne(
    { _id: productId },
    { projection: { status: 1, stock: 1, reservations: 1 } },
  );
  if (product?.reservations?.some((r) => r.id === reservationId)) return 'already_reserved';
  if (product?.status !== 'active') return 'unavailable';
  return 'insufficient';
}

/**
 * Commits the reservation as the caller made it (`made`) without reading it first: $pull
 * of that exact entry. True when it is gone now; false when the product holds it still (it
 * is not as the caller thinks) or holds none (ended before).
 */
async function commitAsMade(
  stock: StockModule,
  productId: string,
  made: StockReservation,
): Promise<boolean> {
  const after = await stock.products.findOneAndUpdate(
    { _id: productId, 'reservations.id': made.id },
    { $pull: { reservations: made }, $inc: { version: 1 }, $set: { updatedAt: stock.now() } },
    { returnDocument: 'after' },
  );
  if (!after || after.reservations?.some((r) => r.id === made.id)) return false;
  await productsChanged(stock.cache, [productId]);
  return true;
}

async function endReservation(
  stock: StockModule,
  productId: string,
  reservationId: string,
  giveBack: boolean,
): Promise<boolean> {
  const product = await stock.products.findOne(
    { _id: productId, 'reservations.id': reservationId },
    { projection: { reservations: 1 } },
  );
  const entry = product?.reservations?.find((r) => r.id === reservationId);
  if (!entry) return false; // ended before: nothing to do
  // $pull of the exact entry (FerretDB matches whole values): only one caller removes it,
  // so stock is given back at most once.
  const after = await stock.products.findOneAndUpdate(
    { _id: productId, 'reservations.id': reservationId },
    {
      $pull: { reservations: entry },
      $inc: { stock: giveBack ? entry.quantity : 0, version: 1 },
      $set: { updatedAt: stock.now() },
    },
    { returnDocument: 'after' },
  );
  if (!after) return false;
  await productsChanged(stock.cache, [productId]);
  if (giveBack) await reportChange(stock, after);
  return true;
}

const tracer = trace.getTracer('@gorten/catalog');

/** Takes `quantity` of the product for the reservation, at most once. */
export const reserveStock = spanned(tracer, 'catalog.stock reserve', reserve);

/**
 * The order is paid: the reserved stock is sold. `made` is the reservation as the caller
 * made it (reserveStock's entry), if it holds it: committed without reading it first.
 */
export const commitReservation = spanned(
  tracer,
  'catalog.stock commit',
  async (stock: StockModule, productId: string, reservationId: string, made?: StockReservation) =>
    (made?.id === reservationId && (await commitAsMade(stock, productId, made))) ||
    endReservation(stock, productId, reservationId, false),
);

/** The checkout failed: the reserved stock comes back. */
export const releaseReservation = spanned(
  tracer,
  'catalog.stock release',
  (stock: StockModule, productId: string, reservationId: string) =>
    endReservation(stock, productId, reservationId, true),
);

/** Products holding a reservation of `reservationId` (recovery after a crash). */
export async function reservedBy(stock: StockModule, reservationId: string): Promise<string[]> {
  const docs = await stock.products
    .find({ 'reservations.id': reservationId }, { projection: { _id: 1 } })
    .toArray();
  return docs.map((d) => d._id);
}

/** Reservations past their expiry: their checkout never ended them (checkout sweeps). */
export async function expiredReservations(
  stock: StockModule,
): Promise<{ productId: string; reservationId: string }[]> {
  const docs = await stock.products
    .find({ 'reservations.expiresAt': { $lt: stock.now() } }, { projection: { reservations: 1 } })
    .toArray();
  const now = stock.now().getTime();
  return docs.flatMap((d) =>
    (d.reservations ?? [])
      .filter((r) => r.expiresAt.getTime() < now)
      .map((r) => ({ productId: d._id, reservationId: r.id })),
  );
}
