// The orders service's collections: orders (with their items, history and outbox) and
// the shipment hand-offs its order_paid consumer makes.
import type { CollectionIndexes, WithOutbox } from '@gorten/kit';
import type { Collection, Db } from 'mongodb';

export const ORDER_STATUSES = [
  'pending',
  'awaiting_payment',
  'paid',
  'fulfilled',
  'delivered',
  'cancelled',
  'refunded',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** A line as it was bought: the price is a snapshot, never read from the catalog again. */
export interface OrderItem {
  productId: string;
  companyId: string;
  sku: string;
  name: string;
  unitPrice: number;
  quantity: number;
  lineTotal: number;
}

export interface StatusChange {
  from: OrderStatus | null;
  to: OrderStatus;
  at: Date;
  reason?: string;
}

export interface OrderDoc extends WithOutbox {
  _id: string;
  /** The checkout that made it: one order per checkout. */
  checkoutId: string;
  buyerId: string;
  items: OrderItem[];
  /** The companies whose items it holds: sellers find their orders by it. */
  companyIds: string[];
  currency: string;
  total: number;
  status: OrderStatus;
  paymentId?: string;
  history: StatusChange[];
  /** Set once the confirmation notice is queued (with order.paid, or after it). */
  confirmationQueued?: boolean;
  /** Set by the order_paid consumer once the payment receipt is queued. */
  receiptQueued?: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ShipmentDoc extends WithOutbox {
  /** `<orderId>:<companyId>`: one hand-off per company and order. */
  _id: string;
  orderId: string;
  companyId: string;
  items: { productId: string; sku: string; name: string; quantity: number }[];
  status: 'ready_to_ship';
  createdAt: Date;
}

export interface OrdersStore {
  orders: Collection<OrderDoc>;
  shipments: Collection<ShipmentDoc>;
}

export function ordersStore(db: Db): OrdersStore {
  return { orders: db.collection('orders'), shipments: db.collection('shipments') };
}

export const ORDERS_INDEXES: CollectionIndexes[] = [
  {
    collection: 'orders',
    indexes: [
      { key: { checkoutId: 1 }, name: 'checkout_unique', unique: true },
      { key: { buyerId: 1, _id: -1 }, name: 'buyer_newest' },
      { key: { companyIds: 1, _id: -1 }, name: 'company_newest' },
      { key: { status: 1 }, name: 'status' },
    ],
  },
  { collection: 'shipments', indexes: [{ key: { companyId: 1 }, name: 'company' }] },
];
