// Reading payments: a buyer sees their own, admins all; a payment of someone else does
// not exist for the caller (404, not 403: ids are not confirmed to strangers).
import {
  decodeCursor,
  FOREIGN_CURSOR,
  isAdmin,
  notFound,
  page,
  unprocessable,
  type Principal,
} from '@gorten/kit';
import type { Filter } from 'mongodb';
import type { PaymentsDeps } from './deps.js';
import type { Payment } from './schemas.js';
import type { PaymentDoc } from './store.js';

export function toPayment(doc: PaymentDoc): Payment {
  return {
    id: doc._id,
    orderId: doc.orderId,
    buyerId: doc.buyerId,
    amount: doc.amount,
    currency: doc.currency,
    status: doc.status,
    provider: doc.provider,
    // Named field by field: whatever else a stored document holds is never answered.
    card: { brand: doc.card.brand, last4: doc.card.last4 },
    ...(doc.declineCode ? { declineCode: doc.declineCode } : {}),
    captured: doc.captured,
    refunded: doc.refunded,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

export async function getPayment(
  deps: PaymentsDeps,
  principal: Principal,
  id: string,
): Promise<Payment> {
  const doc = await deps.store.payments.findOne({ _id: id });
  if (!doc || (!isAdmin(principal) && doc.buyerId !== principal.userId))
    throw notFound('No such payment.');
  return toPayment(doc);
}

/** The payments after `cursor` (newest first: createdAt, then _id, descending). */
function olderThan(cursor: string | undefined): Filter<PaymentDoc> {
  if (!cursor) return {};
  const [at, id] = decodeCursor(cursor);
  if (typeof at !== 'number') throw unprocessable(FOREIGN_CURSOR);
  const createdAt = new Date(at);
  return { $or: [{ createdAt: { $lt: createdAt } }, { createdAt, _id: { $lt: id } }] };
}

export async function listPayments(
  deps: PaymentsDeps,
  principal: Principal,
  query: { limit: number; cursor?: string; orderId?: string },
): Promise<{ items: Payment[]; nextCursor: string | null }> {
  const filter: Filter<PaymentDoc> = {
    ...(isAdmin(principal) ? {} : { buyerId: principal.userId }),
    ...(query.orderId ? { orderId: query.orderId } : {}),
    ...olderThan(query.cursor),
  };
  const docs = await deps.store.payments
    .find(filter)
    .sort({ createdAt: -1, _id: -1 })
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => d.createdAt.getTime());
  return { items: result.items.map(toPayment), nextCursor: result.nextCursor };
}
