// Writing orders. Checkout creates an order (one per checkout, whatever the retries) and
// moves it along; admins and sellers move it later. Every move is one compare-and-set
// update on the order's version that also records the move in its history and, where
// the move is an event (created, paid), appends the event to the order's outbox and
// announces it through `orders.outbox`, so that the relay of the process publishes it at
// once (handing it the outbox as written: the relay need not read the order again) — an
// order made awaiting payment is announced by its next move. A caller that holds the
// order as it last wrote it (checkout) moves it without reading it first.
import { conflict, isDuplicateKey, notFound, outboxEntry, type Outbox } from '@gorten/kit';
import type { Db } from 'mongodb';
import { allowedNext, assertTransition } from './lifecycle.js';
import {
  ordersStore,
  type OrderDoc,
  type OrderItem,
  type OrderStatus,
  type OrdersStore,
} from './store.js';

export interface OrderModule {
  store: OrdersStore;
  /** Told of every order event written (created, paid). */
  outbox: Outbox;
  now: () => Date;
}

/** The orders module on the tenant's database: the orders service's and checkout's. */
export function createOrderModule(db: Db, outbox: Outbox): OrderModule {
  return { store: ordersStore(db), outbox, now: () => new Date() };
}

/** order.created and order.paid, as published to order_exchange. */
export interface OrderEvent {
  orderId: string;
  buyerId: string;
  companyIds: string[];
  items: OrderItem[];
  total: number;
  currency: string;
  paymentId?: string;
}

function orderEvent(order: OrderDoc, type: 'order.created' | 'order.paid') {
  const data: OrderEvent = {
    orderId: order._id,
    buyerId: order.buyerId,
    companyIds: order.companyIds,
    items: order.items,
    total: order.total,
    currency: order.currency,
    ...(order.paymentId ? { paymentId: order.paymentId } : {}),
  };
  return outboxEntry('order_exchange', type, type, data);
}

export interface NewOrder {
  checkoutId: string;
  buyerId: string;
  items: OrderItem[];
  currency: string;
  /**
   * Made waiting for its payment at once (checkout asks for it next): one write instead
   * of a pending order and its move, the history saying both.
   */
  awaitingPayment?: boolean;
}

/**
 * The id of a checkout's order: the checkout's own (`chk_<ObjectId>`, from newId) under
 * the order prefix. Known before the order is made, so a checkout that failed before it
 * recorded the order finds it by `_id`; and orders keep their time order (lists sort by
 * `_id`).
 */
export function orderIdFor(checkoutId: string): string {
  return `ord_${checkoutId.slice(checkoutId.indexOf('_') + 1)}`;
}

/** The checkout's order: made once; asking again returns the one made. */
export async function createOrder(orders: OrderModule, input: NewOrder): Promise<OrderDoc> {
  const now = orders.now();
  const order: OrderDoc = {
    _id: orderIdFor(input.checkoutId),
    checkoutId: input.checkoutId,
    buyerId: input.buyerId,
    items: input.items,
    companyIds: [...new Set(input.items.map((i) => i.companyId))].sort(),
    currency: input.currency,
    total: input.items.reduce((sum, i) => sum + i.lineTotal, 0),
    status: input.awaitingPayment ? 'awaiting_payment' : 'pending',
    history: [
      { from: null, to: 'pending', at: now },
      ...(input.awaitingPayment
        ? [{ from: 'pending' as const, to: 'awaiting_payment' as const, at: now }]
        : []),
    ],
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  order.outbox = [orderEvent(order, 'order.created')];
  try {
    await orders.store.orders.insertOne(order);
    // One made waiting for its payment moves on at once (paid or cancelled), and that
    // move announces both events: the relay removes them in one write.
    if (!input.awaitingPayment)
      orders.outbox.announce(orders.store.orders, order._id, order.outbox);
    return order;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await orders.store.orders.findOne({ _id: order._id });
    if (!existing) throw err;
    return existing;
  }
}

/** The order made for a checkout, if any, found by its id (orderIdFor). */
export async function orderOfCheckout(
  orders: OrderModule,
  checkoutId: string,
): Promise<OrderDoc | undefined> {
  return (await orders.store.orders.findOne({ _id: orderIdFor(checkoutId) })) ?? undefined;
}

/**
 * Where the order stands (checkout looks before it takes the payment: an admin may have
 * cancelled it, or — after a crash — it was paid already); undefined for no such order.
 */
export async function orderStatusOf(
  orders: OrderModule,
  orderId: string,
): Promise<OrderStatus | undefined> {
  const order = await orders.store.orders.findOne({ _id: orderId }, { projection: { status: 1 } });
  return order?.status;
}

const ATTEMPTS = 5;

/**
 * Moves the order to `to`; moving it where it already is changes nothing (retries and
 * recovery call this again). An illegal move is a 409 naming what is allowed. `known` is
 * the order as the caller last wrote it: a move it allows is first tried as a
 * compare-and-set on its version, without reading; if the order moved on since (or
 * `known` allows no such move), it is read as usual.
 */
export async function transitionOrder(
  orders: OrderModule,
  orderId: string,
  to: OrderStatus,
  details: { reason?: string; paymentId?: string } = {},
  known?: OrderDoc,
): Promise<OrderDoc> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // Only a move `known` allows is tried from it: what else it says may be stale.
    const fromKnown =
      attempt === 0 && known?._id === orderId && allowedNext(known.status).includes(to);
    const order = fromKnown
      ? known
      : await orders.store.orders.findOne({ _id: orderId }, { projection: { outbox: 0 } });
    if (!order) throw notFound('No such order.');
    if (order.status === to) return order;
    assertTransition(order.status, to);
    const now = orders.now();
    const next: OrderDoc = {
      ...order,
      status: to,
      ...(details.paymentId ? { paymentId: details.paymentId } : {}),
      history: [
        ...order.history,
        { from: order.status, to, at: now, ...(details.reason ? { reason: details.reason } : {}) },
      ],
      version: order.version + 1,
      updatedAt: now,
    };
    // The order as this write leaves it comes back: its outbox, for the relay. (FerretDB
    // takes no projection on findAndModify.)
    const written = await orders.store.orders.findOneAndUpdate(
      { _id: orderId, version: order.version },
      {
        $set: {
          status: next.status,
          history: next.history,
          version: next.version,
          updatedAt: now,
          ...(details.paymentId ? { paymentId: details.paymentId } : {}),
        },
        ...(to === 'paid' ? { $push: { outbox: orderEvent(next, 'order.paid') } } : {}),
      },
      { returnDocument: 'after' },
    );
    if (written) {
      // The move's own event, or the order.created of an order made awaiting payment.
      const pending = to === 'paid' || order.status === 'awaiting_payment';
      if (pending && (written.outbox?.length ?? 0) > 0)
        orders.outbox.announce(orders.store.orders, orderId, written.outbox);
      const { outbox: _outbox, ...moved } = next;
      return moved;
    }
  }
  throw conflict('The order keeps changing; try again.');
}
