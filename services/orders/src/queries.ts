// Reading orders. Buyers see their own; a seller sees the orders holding their
// company's items, and of those only their items and their total; admins see all.
// Someone else's order does not exist for the caller (404).
import { afterCursor, isAdmin, notFound, page, type Principal } from '@gorten/kit';
import type { Filter } from 'mongodb';
import type { Order } from './schemas.js';
import type { OrderDoc, OrderStatus, OrdersStore } from './store.js';

function ownFilter(principal: Principal): Filter<OrderDoc> | undefined {
  if (isAdmin(principal)) return {};
  const own: Filter<OrderDoc>[] = [];
  if (principal.roles.includes('buyer')) own.push({ buyerId: principal.userId });
  if (principal.roles.includes('seller') && principal.companyId)
    own.push({ companyIds: principal.companyId });
  if (own.length === 0) return undefined;
  return own.length === 1 ? own[0] : { $or: own };
}

export function toOrder(doc: OrderDoc, principal: Principal): Order {
  const sellerView =
    !isAdmin(principal) && doc.buyerId !== principal.userId && principal.companyId !== undefined;
  const items = sellerView
    ? doc.items.filter((i) => i.companyId === principal.companyId)
    : doc.items;
  return {
    id: doc._id,
    buyerId: doc.buyerId,
    status: doc.status,
    items,
    currency: doc.currency,
    total: sellerView ? items.reduce((sum, i) => sum + i.lineTotal, 0) : doc.total,
    ...(doc.paymentId ? { paymentId: doc.paymentId } : {}),
    history: doc.history.map((h) => ({
      from: h.from,
      to: h.to,
      at: h.at.toISOString(),
      ...(h.reason ? { reason: h.reason } : {}),
    })),
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

/** The order if the caller may see it (as buyer, seller of one of its items, or admin). */
export async function visibleOrder(
  store: OrdersStore,
  principal: Principal,
  id: string,
): Promise<OrderDoc> {
  const filter = ownFilter(principal);
  const doc = filter
    ? await store.orders.findOne({ ...filter, _id: id }, { projection: { outbox: 0 } })
    : null;
  if (!doc) throw notFound('No such order.');
  return doc;
}

export async function listOrders(
  store: OrdersStore,
  principal: Principal,
  query: { limit: number; cursor?: string; status?: OrderStatus },
): Promise<{ items: Order[]; nextCursor: string | null }> {
  const filter = ownFilter(principal);
  if (!filter) return { items: [], nextCursor: null };
  const docs = await store.orders
    .find(
      {
        ...filter,
        ...(query.status ? { status: query.status } : {}),
        ...afterCursor('_id', -1, query.cursor),
      },
      { projection: { outbox: 0 } },
    )
    .sort({ _id: -1 })
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => d._id);
  return { items: result.items.map((d) => toOrder(d, principal)), nextCursor: result.nextCursor };
}
