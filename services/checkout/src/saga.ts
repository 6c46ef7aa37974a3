// The checkout saga: from a buyer's cart to a paid order, without multi-document
// transactions. Each step is a single-document update in the service that owns the data,
// and the saga records every step in its own document before the next one starts, so a
// crash leaves a state the recovery worker can read:
//
//   started → cart_locked → reserved → order_created → authorizing → authorized → paid
//           → completed                 (commit the reservations, empty the cart)
//   any failure before `authorized` → compensated: the undo of every step begun, last
//           first (void the authorization by its key, cancel the order with the reason,
//           release the reservations, unlock the cart)
//
// SAGA_STEPS holds the path up to `authorized`, each step beside its undo. Once a payment
// is authorized the saga only goes forward: capture, mark paid, finish — unless an admin
// cancelled the order meanwhile: then the payment is voided or refunded and the run
// compensated, so a cancelled order never keeps the buyer's money.
//
// Every step, forward or undo, is a span `checkout <step>` (`checkout undo <step>` under
// `checkout compensate`), in the trace of the request or the recovery that runs it.
import { inSpan, conflict, Problem, problemFor, unprocessable } from '@gorten/kit';
import { trace } from '@opentelemetry/api';
import {
  cartLines,
  emptyCart,
  lockCart,
  productsOf,
  unlockCart,
  type CartModule,
} from '@gorten/carts/carts';
import {
  commitReservation,
  releaseReservation,
  reserveStock,
  reservedBy,
  type StockModule,
} from '@gorten/catalog/stock';
import {
  createOrder,
  orderIdFor,
  orderOfCheckout,
  orderStatusOf,
  transitionOrder,
  type OrderModule,
} from '@gorten/orders/orders';
import type { ProductDoc } from '@gorten/catalog/store';
import { hasBeenPaid } from '@gorten/orders/lifecycle';
import type { OrderItem } from '@gorten/orders/store';
import {
  authorizePayment,
  capturePayment,
  PaymentOutcomeUnknown,
  paymentOf,
  refundPayment,
  voidPayment,
  type PaymentModule,
} from '@gorten/payments/payments';
import type { Logger } from 'pino';
import type { CheckoutEnv } from './config.js';
import type { CheckoutRequest } from './schemas.js';
import {
  CHECKOUT_STEPS,
  type CheckoutDoc,
  type CheckoutStep,
  type CheckoutStore,
  type StoredAnswer,
} from './store.js';

export interface SagaDeps {
  env: CheckoutEnv;
  store: CheckoutStore;
  carts: CartModule;
  stock: StockModule;
  orders: OrderModule;
  payments: PaymentModule;
  log: Logger;
  now: () => Date;
  /** Failure drills: called after each step is recorded (see CHECKOUT_FAILPOINT). */
  afterStep?: (step: CheckoutStep) => void;
}

/** How a run ended: with its answer, or settled without one. */
export type RunOutcome = { answer: StoredAnswer; run: CheckoutDoc } | Settled;

/**
 * A run without an answer: `compensated` (undone; `error` says why, and `run` is the run
 * as recorded, with what its key answers) or `pending` (not settled: the recovery worker
 * finishes it from `step`).
 */
export type Settled =
  | { settled: 'compensated'; error: unknown; step: 'compensated'; run: CheckoutDoc }
  | { settled: 'pending'; error: unknown; step: CheckoutStep };

const unsettled = (run: CheckoutDoc, error: unknown): Settled => ({
  settled: 'pending',
  error,
  step: run.step,
});

/** Failures that say nothing final about the request: its key is freed for a retry. */
const TRANSIENT_REASONS = new Set(['cart_locked', 'try_again']);

/** What the key of a run undone because of `cause` answers; none: the key is freed. */
function finalAnswer(cause: unknown): StoredAnswer | undefined {
  if (!(cause instanceof Problem) || TRANSIENT_REASONS.has(String(cause.extensions.reason)))
    return undefined;
  return { status: cause.status, body: problemFor(cause).document };
}

/** A checkout that could not finish and may be tried again (nothing was charged). */
export class RetryableCheckoutFailure extends Problem {
  constructor(
    detail: string,
    /** Why, for the metrics: the provider did not answer, or recovery settles the run. */
    readonly why: 'provider_timeout' | 'unsettled',
  ) {
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

const tracer = trace.getTracer('@gorten/checkout');

/** Runs one step of the saga as its span. */
function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  return inSpan(tracer, `checkout ${name}`, work);
}

/**
 * Records a step (and renews the lease) only while this run still holds the lease, and
 * returns the document as recorded.
 */
async function advance(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  step: CheckoutStep,
  fields: Partial<CheckoutDoc> = {},
): Promise<CheckoutDoc> {
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
  deps.afterStep?.(step);
  return next;
}

/** Throws LeaseLost unless the run still holds its lease, and it has not run out. */
async function assertLease(deps: SagaDeps, checkout: CheckoutDoc): Promise<void> {
  const current = await deps.store.checkouts.findOne(
    { _id: checkout._id },
    { projection: { leaseHolder: 1, leaseUntil: 1 } },
  );
  if (current?.leaseHolder !== checkout.leaseHolder || current.leaseUntil <= deps.now())
    throw new LeaseLost(`checkout ${checkout._id} lost its lease`);
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
  if (items.length === 0) throw unprocessable('The cart is empty.', { reason: 'cart_empty' });
  const products = await productsOf(deps.carts, items);
  const lines = priceLines(deps, items, products);
  const short = lines.find((l) => (products.get(l.productId)?.stock ?? 0) < l.quantity);
  if (short) throw outOfStock(short.name);
}

type Failure = NonNullable<CheckoutDoc['failure']>;

/** One step of the path to an authorized payment: its work, what it records, its undo. */
export interface SagaStep {
  /** What it does, naming its span: `checkout <name>`, `checkout undo <name>`. */
  name: string;
  /** Recorded before `run`, where a crash during it must be known (the provider call). */
  intent?: CheckoutStep;
  /** Recorded with the fields `run` returns, once it succeeded. */
  done: CheckoutStep;
  run: (
    deps: SagaDeps,
    checkout: CheckoutDoc,
    request: CheckoutRequest,
  ) => Promise<Partial<CheckoutDoc>>;
  /** Takes back what `run` did, also a part of it; idempotent (recovery may repeat it). */
  undo: (deps: SagaDeps, checkout: CheckoutDoc, failure: Failure) => Promise<unknown>;
}

/** In order; each `run` reads what the steps before it recorded. */
export const SAGA_STEPS: readonly SagaStep[] = [
  {
    // The cart as priced now is what the order will say, and what the buyer agreed to. It
    // stays locked until the run is settled — completed (emptied) or compensated
    // (unlocked) —, however long recovery takes: a second checkout of it while this one
    // may still charge would charge twice.
    name: 'lock_cart',
    done: 'cart_locked',
    async run(deps, checkout, request) {
      const locked = await lockCart(deps.carts, checkout.buyerId, checkout._id);
      if (!locked) {
        if ((await cartLines(deps.carts, checkout.buyerId)).length === 0)
          throw unprocessable('The cart is empty.', { reason: 'cart_empty' });
        throw conflict('Another checkout of this cart is in progress.', { reason: 'cart_locked' });
      }
      if (locked.length === 0) throw unprocessable('The cart is empty.', { reason: 'cart_empty' });
      const lines = priceLines(deps, locked, await productsOf(deps.carts, locked));
      const total = lines.reduce((sum, l) => sum + l.lineTotal, 0);
      const { expectedTotal } = request;
      if (expectedTotal !== undefined && expectedTotal !== total)
        throw conflict(
          `The cart costs ${total} now, not the ${expectedTotal} expected: look at it again.`,
          { reason: 'total_changed', expectedTotal, total },
        );
      return { lines, total };
    },
    undo: (deps, checkout) => unlockCart(deps.carts, checkout.buyerId, checkout._id),
  },
  {
    name: 'reserve_stock',
    done: 'reserved',
    async run(deps, checkout) {
      const expiresAt = new Date(deps.now().getTime() + deps.env.RESERVATION_TTL_MS);
      for (const line of checkout.lines ?? []) {
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
      return {};
    },
    // By what the products hold, not by the lines: a failed run may have reserved a part.
    async undo(deps, checkout) {
      for (const productId of await reservedBy(deps.stock, checkout._id))
        await releaseReservation(deps.stock, productId, checkout._id);
    },
  },
  {
    name: 'create_order',
    done: 'order_created',
    async run(deps, checkout) {
      const order = await createOrder(deps.orders, {
        checkoutId: checkout._id,
        buyerId: checkout.buyerId,
        items: checkout.lines ?? [],
        currency: checkout.currency,
      });
      await transitionOrder(deps.orders, order._id, 'awaiting_payment');
      return { orderId: order._id };
    },
    // Also an order made before its id was recorded here (a failure in between): the
    // order's id is derived from the checkout's.
    async undo(deps, checkout, failure) {
      const orderId = checkout.orderId ?? (await orderOfCheckout(deps.orders, checkout._id))?._id;
      if (orderId)
        await transitionOrder(deps.orders, orderId, 'cancelled', { reason: failure.reason });
    },
  },
  {
    // If we crash while the provider works, recovery knows an authorization may exist
    // under this key and voids it.
    name: 'authorize_payment',
    intent: 'authorizing',
    done: 'authorized',
    async run(deps, checkout, request) {
      let payment;
      try {
        payment = await authorizePayment(
          deps.payments,
          {
            key: checkout.paymentKey,
            merchantReference: checkout.requestId,
            orderId: checkout.orderId ?? '',
            buyerId: checkout.buyerId,
            amount: checkout.total ?? 0,
            currency: checkout.currency,
            paymentMethod: request.paymentMethod,
          },
          // The last look before the provider: a run overtaken by now asks it nothing.
          { fence: () => assertLease(deps, checkout) },
        );
      } catch (err) {
        if (err instanceof PaymentOutcomeUnknown)
          throw new RetryableCheckoutFailure(
            'The payment provider did not answer in time. Nothing was charged; send the same request again.',
            'provider_timeout',
          );
        throw err;
      }
      // Voided under its key already: the run that took this one over undid it.
      if (payment.status === 'voided')
        throw new LeaseLost(`checkout ${checkout._id}: its authorization was voided`);
      if (payment.status === 'declined') {
        throw new Problem(402, 'Payment Required', 'The card was declined.', {
          reason: 'payment_declined',
          declineCode: payment.declineCode,
        });
      }
      return { paymentId: payment._id };
    },
    undo: (deps, checkout) => returnPayment(deps, checkout),
  },
];

/**
 * What compensating a run at `step` undoes, in that order: every step begun — the one
 * under way too, which may have done a part — from the last back to the first. A step has
 * begun once the step before it is recorded, or its own `intent`.
 */
export function stepsToUndo(step: CheckoutStep): SagaStep[] {
  const at = CHECKOUT_STEPS.indexOf(step);
  const begun = SAGA_STEPS.filter((s, i) => {
    const from = s.intent ?? SAGA_STEPS[i - 1]?.done ?? 'started';
    return CHECKOUT_STEPS.indexOf(from) <= at;
  });
  return begun.reverse();
}

/** Runs a new checkout to its end: the order, or settled without one (see RunOutcome). */
export async function runCheckout(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  request: CheckoutRequest,
): Promise<RunOutcome> {
  let run = checkout;
  try {
    for (const saga of SAGA_STEPS) {
      if (saga.intent) run = await advance(deps, run, saga.intent);
      const current = run;
      const fields = await step(saga.name, () => saga.run(deps, current, request));
      run = await advance(deps, run, saga.done, fields);
    }
  } catch (err) {
    if (err instanceof LeaseLost) return afterLeaseLost(deps, run, err);
    return compensate(deps, run, err).catch((failure: unknown) => unsettled(run, failure));
  }
  return completeCheckout(deps, run);
}

/**
 * A run that lost its lease mid-step (paused past it: a stall, a frozen VM, a skewed
 * clock) may have done that step's work after the run that took over had undone the run:
 * an order made late, stock reserved late, an authorization landed late. When the run is
 * recorded compensated, that work is undone here as well (every undo is idempotent);
 * otherwise the run that holds it now settles it.
 */
async function afterLeaseLost(deps: SagaDeps, run: CheckoutDoc, lost: LeaseLost): Promise<Settled> {
  try {
    const recorded = await deps.store.checkouts.findOne({ _id: run._id });
    if (recorded?.step === 'compensated') {
      const failure = recorded.failure ?? reasonOf(lost);
      for (const saga of stepsToUndo(run.step))
        await step(`undo ${saga.name}`, () => saga.undo(deps, run, failure));
      deps.log.info({ checkoutId: run._id }, 'late work of an overtaken checkout undone');
    }
  } catch (err) {
    deps.log.warn({ err, checkoutId: run._id }, 'undoing the late work of an overtaken run failed');
  }
  return unsettled(run, lost);
}

/** Forward from an authorized payment: capture, mark paid, keep the stock, empty the cart. */
export async function completeCheckout(deps: SagaDeps, checkout: CheckoutDoc): Promise<RunOutcome> {
  let run = checkout;
  try {
    if (run.step === 'authorized') {
      const authorized = run;
      if (!(await payOrder(deps, authorized))) {
        const cancelled = conflict(
          'The order was cancelled while it was being paid; the payment was returned.',
          { reason: 'order_cancelled', orderId: run.orderId ?? '' },
        );
        return await compensate(deps, run, cancelled);
      }
      run = await advance(deps, run, 'paid');
    }
    const paid = run;
    await step('finish', async () => {
      for (const line of paid.lines ?? [])
        await commitReservation(deps.stock, line.productId, paid._id);
      await emptyCart(deps.carts, paid.buyerId, paid._id);
    });
    const answer: StoredAnswer = {
      status: 201,
      body: {
        orderId: run.orderId ?? '',
        status: 'paid',
        paymentId: run.paymentId ?? '',
        currency: run.currency,
        total: run.total ?? 0,
        items: run.lines ?? [],
      },
    };
    return { answer, run: await advance(deps, run, 'completed', { answer }) };
  } catch (err) {
    return unsettled(run, err);
  }
}

/**
 * Captures and marks the order paid; false when the order was cancelled meanwhile. An
 * order paid already (by a run that died before it recorded `paid`) is not paid again,
 * whatever became of it since — an admin may have refunded it.
 */
async function payOrder(deps: SagaDeps, checkout: CheckoutDoc): Promise<boolean> {
  const orderId = checkout.orderId ?? '';
  const status = await orderStatusOf(deps.orders, orderId);
  if (status === 'cancelled') return false;
  if (status && hasBeenPaid(status)) return true;
  const payment = await step('capture_payment', () =>
    capturePayment(deps.payments, checkout.paymentId ?? ''),
  );
  try {
    await step('mark_paid', () =>
      transitionOrder(deps.orders, orderId, 'paid', { paymentId: payment._id }),
    );
    return true;
  } catch (err) {
    if ((await orderStatusOf(deps.orders, orderId)) === 'cancelled') return false;
    throw err;
  }
}

/**
 * Gives the buyer's money back: refunds what was captured, or voids the authorization —
 * and refunds after all when the provider answers the void with "captured" (a capture
 * whose recording was lost).
 */
async function returnPayment(deps: SagaDeps, checkout: CheckoutDoc): Promise<void> {
  const recorded = checkout.paymentId
    ? await paymentOf(deps.payments, checkout.paymentId)
    : undefined;
  const payment =
    recorded && recorded.captured > 0
      ? recorded
      : await voidPayment(deps.payments, checkout.paymentKey, {
          orderId: checkout.orderId ?? orderIdFor(checkout._id),
          buyerId: checkout.buyerId,
          amount: checkout.total ?? 0,
          currency: checkout.currency,
        });
  if (payment.captured > payment.refunded)
    await refundPayment(deps.payments, payment._id, {
      key: `${checkout._id}:returned`,
      reason: 'order_cancelled',
    });
}

function reasonOf(err: unknown): Failure {
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
 * Undoes whatever the run began (stepsToUndo): the authorization (by its key, so also one
 * whose outcome was never learned), the order, the reservations, the cart lock. Each undo
 * is tried even if another fails; the run is marked compensated only when all succeeded —
 * otherwise it stays pending: its lease runs out and recovery compensates again.
 */
export async function compensate(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  cause: unknown,
): Promise<Settled> {
  return step('compensate', () => compensateRun(deps, checkout, cause));
}

async function compensateRun(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  cause: unknown,
): Promise<Settled> {
  const failure = reasonOf(cause);
  const failed: unknown[] = [];
  for (const saga of stepsToUndo(checkout.step))
    await step(`undo ${saga.name}`, () => saga.undo(deps, checkout, failure)).catch(
      (err: unknown) => failed.push(err),
    );
  if (failed.length > 0) {
    deps.log.warn(
      { checkoutId: checkout._id, ...failure, errors: failed.map((e) => (e as Error).message) },
      'checkout compensation incomplete; recovery will retry',
    );
    return unsettled(checkout, cause);
  }
  const answer = finalAnswer(cause);
  const run = await advance(deps, checkout, 'compensated', { failure, ...(answer && { answer }) });
  deps.log.info({ checkoutId: checkout._id, ...failure }, 'checkout compensated');
  return { settled: 'compensated', error: cause, step: 'compensated', run };
}
