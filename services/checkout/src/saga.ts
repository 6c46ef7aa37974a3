// The checkout saga: from a buyer's cart to a paid order, without multi-document
// transactions. Each step is a single-document update in the service that owns the data,
// and the saga records every step in its own document before the next one starts, so a
// crash leaves a state the recovery worker can read:
//
//   started → cart_locked → reserved → order_created → authorizing → authorized → paid
//           → completed                 (commit the reservations, empty the cart)
//   any failure before `authorized` → compensated (void the authorization by its key,
//           release the reservations, cancel the order with the reason, unlock the cart)
//
// Once a payment is authorized the saga only goes forward: capture, mark paid, finish —
// unless an admin cancelled the order meanwhile: then the payment is voided or refunded
// and the run compensated, so a cancelled order never keeps the buyer's money.
import { conflict, Problem, unprocessable } from '@gorten/kit';
import {
  cartLines,
  emptyCart,
  lockCart,
  productsOf,
  unlockCart,
  type CartOps,
} from '@gorten/carts/carts';
import {
  commitReservation,
  releaseReservation,
  reserveStock,
  reservedBy,
  type StockOps,
} from '@gorten/catalog/stock';
import {
  createOrder,
  isOrderCancelled,
  transitionOrder,
  type OrderOps,
} from '@gorten/orders/orders';
import type { ProductDoc } from '@gorten/catalog/store';
import type { OrderItem } from '@gorten/orders/store';
import {
  authorizePayment,
  capturePayment,
  PaymentOutcomeUnknown,
  paymentOf,
  refundPayment,
  voidPayment,
  type PaymentOps,
} from '@gorten/payments/payments';
import type { Card } from '@gorten/payments/provider';
import type { Logger } from 'pino';
import type { CheckoutEnv } from './config.js';
import type { CheckoutDoc, CheckoutStep, CheckoutStore, StoredAnswer } from './store.js';

export interface SagaDeps {
  env: CheckoutEnv;
  store: CheckoutStore;
  carts: CartOps;
  stock: StockOps;
  orders: OrderOps;
  payments: PaymentOps;
  log: Logger;
  now: () => Date;
  /** Failure drills: called after each step is recorded (see CHECKOUT_FAILPOINT). */
  afterStep?: (step: CheckoutStep) => void;
}

/** A checkout that could not finish and may be tried again (nothing was charged). */
export class RetryableCheckoutFailure extends Problem {
  constructor(detail: string) {
    super(503, 'Service Unavailable', detail, { reason: 'try_again' });
    this.headers['Retry-After'] = '2';
  }
}

const outOfStock = (name: string) =>
  conflict(`Not enough ${name} in stock.`, { reason: 'out_of_stock' });

/** The run no longer holds its lease: another worker settles the checkout now. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/** Records a step (and renews the lease) only while this run still holds the lease. */
async function advance(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  step: CheckoutStep,
  fields: Partial<CheckoutDoc> = {},
): Promise<void> {
  const now = deps.now();
  const next = {
    ...checkout,
    ...fields,
    step,
    updatedAt: now,
    leaseUntil: new Date(now.getTime() + deps.env.CHECKOUT_LEASE_MS),
  };
  const { _id, ...set } = next;
  const written = await deps.store.checkouts.updateOne(
    { _id, leaseHolder: checkout.leaseHolder },
    { $set: set },
  );
  if (written.matchedCount === 0) throw new LeaseLost(`checkout ${_id} was taken over`);
  Object.assign(checkout, next);
  deps.afterStep?.(step);
}

/** The cart's lines at today's catalog prices; a product no longer sold ends the checkout. */
function priceLines(
  deps: SagaDeps,
  lines: { productId: string; quantity: number }[],
  products: Map<string, ProductDoc>,
): OrderItem[] {
  const priced: OrderItem[] = [];
  for (const line of [...lines].sort((a, b) => a.productId.localeCompare(b.productId))) {
    const product = products.get(line.productId);
    if (product?.status !== 'active' || product.price.currency !== deps.env.CURRENCY)
      throw conflict(`A product in the cart is no longer for sale (${line.productId}).`, {
        reason: 'unavailable',
        productId: line.productId,
      });
    priced.push({
      productId: product._id,
      companyId: product.companyId,
      sku: product.sku,
      name: product.name,
      unitPrice: product.price.amount,
      quantity: line.quantity,
      lineTotal: product.price.amount * line.quantity,
    });
  }
  return priced;
}

/**
 * A read-only look before any write: a cart that is empty or holds a product out of
 * stock is refused at once. In a rush on a scarce product most requests end here, which
 * keeps them from queueing their writes in front of the ones that can succeed. The
 * reservation remains the real check (stock may go between this look and it).
 */
export async function precheck(deps: SagaDeps, buyerId: string): Promise<void> {
  const items = await cartLines(deps.carts, buyerId);
  if (items.length === 0) throw unprocessable('The cart is empty.');
  const products = await productsOf(deps.carts, items);
  const lines = priceLines(deps, items, products);
  const short = lines.find((l) => (products.get(l.productId)?.stock ?? 0) < l.quantity);
  if (short) throw outOfStock(short.name);
}

/** Runs a new checkout to its end: the order as answered, or a Problem after compensating. */
export async function runCheckout(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  card: Card,
): Promise<StoredAnswer> {
  try {
    const now = deps.now();
    const locked = await lockCart(
      deps.carts,
      checkout.buyerId,
      checkout._id,
      new Date(now.getTime() + deps.env.CHECKOUT_LEASE_MS * 2),
    );
    if (!locked) {
      if ((await cartLines(deps.carts, checkout.buyerId)).length === 0)
        throw unprocessable('The cart is empty.');
      throw conflict('Another checkout of this cart is in progress.', { reason: 'cart_locked' });
    }
    if (locked.length === 0) throw unprocessable('The cart is empty.');
    await advance(deps, checkout, 'cart_locked');

    const lines = priceLines(deps, locked, await productsOf(deps.carts, locked));
    const total = lines.reduce((sum, l) => sum + l.lineTotal, 0);
    const expiresAt = new Date(deps.now().getTime() + deps.env.RESERVATION_TTL_MS);
    for (const line of lines) {
      const outcome = await reserveStock(
        deps.stock,
        line.productId,
        line.quantity,
        checkout._id,
        expiresAt,
      );
      if (outcome === 'insufficient') throw outOfStock(line.name);
      if (outcome === 'unavailable')
        throw conflict(`${line.name} is no longer for sale.`, { reason: 'unavailable' });
    }
    await advance(deps, checkout, 'reserved', { lines, total });

    const order = await createOrder(deps.orders, {
      checkoutId: checkout._id,
      buyerId: checkout.buyerId,
      items: lines,
      currency: checkout.currency,
    });
    await transitionOrder(deps.orders, order._id, 'awaiting_payment');
    await advance(deps, checkout, 'order_created', { orderId: order._id });

    // Recorded before the call: if we crash while the provider works, recovery knows an
    // authorization may exist under this key and voids it.
    await advance(deps, checkout, 'authorizing');
    let payment;
    try {
      payment = await authorizePayment(deps.payments, {
        key: checkout.paymentKey,
        merchantReference: checkout.requestId,
        orderId: order._id,
        buyerId: checkout.buyerId,
        amount: total,
        currency: checkout.currency,
        card,
      });
    } catch (err) {
      if (err instanceof PaymentOutcomeUnknown)
        throw new RetryableCheckoutFailure(
          'The payment provider did not answer in time. Nothing was charged; send the same request again.',
        );
      throw err;
    }
    if (payment.status === 'declined') {
      throw new Problem(402, 'Payment Required', 'The card was declined.', {
        reason: 'payment_declined',
        declineCode: payment.declineCode,
      });
    }
    await advance(deps, checkout, 'authorized', { paymentId: payment._id });
  } catch (err) {
    if (!(err instanceof LeaseLost)) await compensate(deps, checkout, err);
    throw err;
  }
  return completeCheckout(deps, checkout);
}

/** Forward from an authorized payment: capture, mark paid, keep the stock, empty the cart. */
export async function completeCheckout(
  deps: SagaDeps,
  checkout: CheckoutDoc,
): Promise<StoredAnswer> {
  const orderId = checkout.orderId ?? '';
  if (checkout.step === 'authorized') {
    const markedPaid = await payOrder(deps, checkout);
    if (!markedPaid) {
      const cancelled = conflict(
        'The order was cancelled while it was being paid; the payment was returned.',
        { reason: 'order_cancelled', orderId },
      );
      await compensate(deps, checkout, cancelled);
      throw cancelled;
    }
    await advance(deps, checkout, 'paid');
  }
  for (const line of checkout.lines ?? [])
    await commitReservation(deps.stock, line.productId, checkout._id);
  await emptyCart(deps.carts, checkout.buyerId, checkout._id);
  const answer: StoredAnswer = {
    status: 201,
    body: {
      orderId,
      status: 'paid',
      paymentId: checkout.paymentId ?? '',
      currency: checkout.currency,
      total: checkout.total ?? 0,
      items: checkout.lines ?? [],
    },
  };
  await advance(deps, checkout, 'completed');
  return answer;
}

/** Captures and marks the order paid; false when the order was cancelled meanwhile. */
async function payOrder(deps: SagaDeps, checkout: CheckoutDoc): Promise<boolean> {
  const orderId = checkout.orderId ?? '';
  if (await isOrderCancelled(deps.orders, orderId)) return false;
  const payment = await capturePayment(deps.payments, checkout.paymentId ?? '');
  try {
    await transitionOrder(deps.orders, orderId, 'paid', { paymentId: payment._id });
    return true;
  } catch (err) {
    if (await isOrderCancelled(deps.orders, orderId)) return false;
    throw err;
  }
}

/** Gives the buyer's money back: voids the authorization, or refunds what was captured. */
async function returnPayment(deps: SagaDeps, checkout: CheckoutDoc): Promise<void> {
  const payment = checkout.paymentId
    ? await paymentOf(deps.payments, checkout.paymentId)
    : undefined;
  if (payment && payment.captured > payment.refunded)
    await refundPayment(deps.payments, payment._id, {
      key: `${checkout._id}:returned`,
      reason: 'order_cancelled',
    });
  else await voidPayment(deps.payments, checkout.paymentKey);
}

function reasonOf(err: unknown): { reason: string; detail: string } {
  if (err instanceof Problem) {
    const reason = err.extensions.reason;
    return {
      reason: typeof reason === 'string' ? reason : `http_${err.status}`,
      detail: err.message,
    };
  }
  return { reason: 'interrupted', detail: err instanceof Error ? err.message : String(err) };
}

/**
 * Undoes whatever the checkout did: the authorization (by its key, so also one whose
 * outcome was never learned), the reservations, the order, the cart lock. Every undo is
 * idempotent and each is tried even if another fails; the run is marked compensated only
 * when all succeeded — otherwise its lease runs out and recovery compensates again.
 */
export async function compensate(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  cause: unknown,
): Promise<void> {
  const failure = reasonOf(cause);
  const undo: (() => Promise<unknown>)[] = [];
  if (checkout.step === 'authorizing' || checkout.step === 'authorized')
    undo.push(() => returnPayment(deps, checkout));
  undo.push(async () => {
    for (const productId of await reservedBy(deps.stock, checkout._id))
      await releaseReservation(deps.stock, productId, checkout._id);
  });
  if (checkout.orderId) {
    const orderId = checkout.orderId;
    undo.push(() => transitionOrder(deps.orders, orderId, 'cancelled', { reason: failure.reason }));
  }
  undo.push(() => unlockCart(deps.carts, checkout.buyerId, checkout._id));
  const failed: unknown[] = [];
  for (const step of undo) await step().catch((err: unknown) => failed.push(err));
  if (failed.length > 0) {
    deps.log.warn(
      { checkoutId: checkout._id, ...failure, errors: failed.map((e) => (e as Error).message) },
      'checkout compensation incomplete; recovery will retry',
    );
    return;
  }
  await advance(deps, checkout, 'compensated', { failure });
  deps.log.info({ checkoutId: checkout._id, ...failure }, 'checkout compensated');
}
