// The checkout service's collections: the saga state of every checkout, and the
// idempotency records of POST /checkout.
import type { CollectionIndexes, IdempotencyRecord } from '@gorten/kit';
import type { OrderItem } from '@gorten/orders/store';
import type { Collection, Db } from 'mongodb';

/** Where a run stands, in the order a run that succeeds passes them (saga.ts). */
export const CHECKOUT_STEPS = [
  'started',
  'cart_locked',
  'reserved',
  'order_created',
  'authorizing',
  'authorized',
  'paid',
  'completed',
  'compensated',
] as const;
export type CheckoutStep = (typeof CHECKOUT_STEPS)[number];

/** The steps a run ends at: nothing is left to do for it. */
export const FINISHED_STEPS: readonly CheckoutStep[] = ['completed', 'compensated'];

/** What a finished checkout answered; replayed for the same key and body. */
export interface StoredAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface CheckoutDoc {
  /** Also the stock reservation id and the order's checkoutId. */
  _id: string;
  /** `<buyer>:<Idempotency-Key>`: the request this run serves. */
  requestId: string;
  buyerId: string;
  step: CheckoutStep;
  /** The cart as priced when the checkout began: what the order will say. */
  lines?: OrderItem[];
  currency: string;
  total?: number;
  orderId?: string;
  /** The payment's authorization key: one payment per checkout run. */
  paymentKey: string;
  paymentId?: string;
  failure?: { reason: string; detail: string };
  /**
   * What the request's key answers, recorded with the step the run ends at; none when
   * the run was undone after a failure worth retrying (the key is then freed).
   */
  answer?: StoredAnswer;
  /** Until when the run that holds it may work on it; after that, recovery may. */
  leaseUntil: Date;
  /**
   * Who holds the lease: every step is written only while this is still the holder's,
   * so a run that lost its lease (it was too slow, recovery took over) stops.
   */
  leaseHolder: string;
  /** How many recoveries of this run failed in a row: the next one waits longer. */
  recoveryFailures?: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CheckoutStore {
  checkouts: Collection<CheckoutDoc>;
  requests: Collection<IdempotencyRecord<StoredAnswer>>;
}

export function checkoutStore(db: Db): CheckoutStore {
  return { checkouts: db.collection('checkouts'), requests: db.collection('checkout_requests') };
}

export const CHECKOUT_INDEXES: CollectionIndexes[] = [
  {
    collection: 'checkouts',
    indexes: [
      { key: { step: 1, leaseUntil: 1 }, name: 'unfinished' },
      { key: { requestId: 1 }, name: 'request' },
    ],
  },
];
