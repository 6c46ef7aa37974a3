// The checkout saga: from a buyer's cart to a paid order, without multi-document
// transactions. Each step is a single-document update in the service that owns the data.
// The saga records its run in its own document where a crash must be known, and carries
// what the steps between learn to the next record:
//
//   started → cart_locked → reserved → order_created → authorizing → authorized → paid
//           → completed                 (commit the reservations, empty the cart)
//   any failure before `authorized` → compensated: the undo of every step begun, last
//           first (void the authorization by its key, cancel the order with the reason,
//           release the reservations, unlock the cart)
//
// The run starts as the key's claim (which names its id) and is recorded at `authorizing`
// (its insert, right before the provider is asked: the fence a run that lost its lease
// cannot pass), `authorized` (the payment is the run's: from here only forward) and the
// end, `completed` or `compensated`. Lock, reservation and order are recorded with
// `authorizing`; a run whose claim went stale before that is recorded `started` by
// recovery (then the request's own insert fails) and may have done any of them, and
// recovery undoes them all (every undo finds its work by the run's id, and does nothing
// where there is none). `paid` is recorded with `completed`: a run recorded `authorized`
// is finished forward, which pays an order not paid yet. Each record after the insert is
// a compare-and-set on the run's lease; a running run also counts where it is itself, so
// that its own compensation undoes only what it began.
//
// SAGA_STEPS holds the path up to `authorized`, each step beside its undo. Once a payment
// is authorized the saga only goes forward: capture, mark paid, finish — unless an admin
// cancelled the order meanwhile: then the payment is voided or refunded and the run
// compensated, so a cancelled order never keeps the buyer's money. A running run keeps
// what it read and wrote (the products it priced, its reservations, order and payment) and
// hands it to the next step, which writes without reading again.
//
// Every step, forward or undo, is a span `checkout <step>` (`checkout undo <step>` under
// `checkout compensate`), in the trace of the request or the recovery that runs it.
import { inSpan, conflict, isDuplicateKey, Problem, problemFor, unprocessable } from '@gorten/kit';
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
  reservationEntry,
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
import type { ProductDoc, StockReservation } from '@gorten/catalog/store';
import type { CartLine } from '@gorten/carts/store';
import { hasBeenPaid } from '@gorten/orders/lifecycle';
import type { OrderDoc, OrderItem } from '@gorten/orders/store';
import {
  authorizePayment,
  capturePayment,
  PaymentOutcomeUnknown,
  paymentOf,
  refundPayment,
  voidPayment,
  type PaymentModule,
} from '@gorten/payments/payments';
import type { PaymentMethod } from '@gorten/payments/provider';
import type { PaymentDoc } from '@gorten/payments/store';
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
  /**
   * Failure drills: called after each step is done — recorded, or carried to the next
   * record (see CHECKOUT_FAILPOINT).
   */
  afterStep?: (step: CheckoutStep) => void;
}

/**
 * What a running run read and wrote, handed to the steps after: what they would otherwise
 * read again. Never stored; a run taken over by recovery goes without it.
 */
export interface RunMemo {
  /** The cart the precheck locked for the run: its lines, and their products as priced then. */
  cart?: { lines: CartLine[]; products: Map<string, ProductDoc> };
  /** The buyer's payment method, as checked before the run began. */
  method?: PaymentMethod;
  /** Each product's reservation, as made. */
  reservations?: Map<string, StockReservation>;
  order?: OrderDoc;
  payment?: PaymentDoc;
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
export function finalAnswer(cause: unknown): StoredAnswer | undefined {
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
 * returns the document as recorded. A run's first record (`first`: it is not on record
 * yet) is its insert: it fails when recovery recorded the run first, taking it over.
 */
async function advance(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  step: CheckoutStep,
  fields: Partial<CheckoutDoc> = {},
  { first = false }: { first?: boolean } = {},
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
  if (first) {
    try {
      await deps.store.checkouts.insertOne(next);
    } catch (err) {
      if (isDuplicateKey(err)) throw new LeaseLost(`checkout ${_id} was taken over`);
      throw err;
    }
  } else {
    const written = await deps.store.checkouts.updateOne(
      { _id, leaseHolder: checkout.leaseHolder },
      { $set: set },
    );
    if (written.matchedCount === 0) throw new LeaseLost(`checkout ${_id} was taken over`);
  }
  deps.afterStep?.(step);
  return next;
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
 * Locks the buyer's cart for run `checkoutId` and returns its lines (the lock is the read
 * of the cart: one command); refused when there is no cart or another checkout holds it.
 */
export async function lockForRun(
  deps: SagaDeps,
  buyerId: string,
  checkoutId: string,
): Promise<CartLine[]> {
  const locked = await lockCart(deps.carts, buyerId, checkoutId);
  if (locked) return locked;
  if ((await cartLines(deps.carts, buyerId)).length === 0)
    throw unprocessable('The cart is empty.', { reason: 'cart_empty' });
  throw conflict('Another checkout of this cart is in progress.', { reason: 'cart_locked' });
}

/**
 * A read-only look at the locked cart's products before any other write: a cart that is
 * empty or holds a product out of stock is refused at once (and unlocked by the caller).
 * In a rush on a scarce product most requests end here: their only writes are the lock
 * and its release, none queued in front of the ones that can succeed. The reservation
 * remains the real check (stock may go between this look and it).
 */
export async function precheck(
  deps: SagaDeps,
  items: CartLine[],
): Promise<NonNullable<RunMemo['cart']>> {
  if (items.length === 0) throw unprocessable('The cart is empty.', { reason: 'cart_empty' });
  const products = await productsOf(deps.carts, items);
  const lines = priceLines(deps, items, products);
  const short = lines.find((l) => (products.get(l.productId)?.stock ?? 0) < l.quantity);
  if (short) throw outOfStock(short.name);
  return { lines: items, products };
}

type Failure = NonNullable<CheckoutDoc['failure']>;

/** One step of the path to an authorized payment: its work, what it records, its undo. */
export interface SagaStep {
  /** What it does, naming its span: `checkout <name>`, `checkout undo <name>`. */
  name: string;
  /** Recorded before `run`, where a crash during it must be known (the provider call). */
  intent?: CheckoutStep;
  /** Where the run is once `run` succeeded: the fields it returns go with it. */
  done: CheckoutStep;
  /** Whether `done` is recorded at once; otherwise it goes with the next record. */
  recorded?: true;
  run: (
    deps: SagaDeps,
    checkout: CheckoutDoc,
    request: CheckoutRequest,
    memo: RunMemo,
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
    // The precheck locked it for the run (memo.cart) and read its products, which price it.
    name: 'lock_cart',
    done: 'cart_locked',
    async run(deps, checkout, request, memo) {
      memo.cart ??= await precheck(deps, await lockForRun(deps, checkout.buyerId, checkout._id));
      const { lines: locked, products } = memo.cart;
      const lines = priceLines(deps, locked, products);
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
    async run(deps, checkout, _request, memo) {
      const expiresAt = new Date(deps.now().getTime() + deps.env.RESERVATION_TTL_MS);
      memo.reservations = new Map();
      for (const line of checkout.lines ?? []) {
        const outcome = await reserveStock(
          deps.stock,
          line.productId,
          line.quantity,
          checkout._id,
          expiresAt,
          memo.cart?.products.get(line.productId),
        );
        if (outcome === 'insufficient') throw outOfStock(line.name);
        if (outcome === 'unavailable')
          throw conflict(`${line.name} is no longer for sale.`, { reason: 'unavailable' });
        // Made just now: as it stands in the product. One made before (a retried step)
        // may differ: committed by reading it.
        if (outcome === 'reserved')
          memo.reservations.set(
            line.productId,
            reservationEntry(checkout._id, line.quantity, expiresAt),
          );
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
    async run(deps, checkout, _request, memo) {
      const order = await createOrder(deps.orders, {
        checkoutId: checkout._id,
        buyerId: checkout.buyerId,
        items: checkout.lines ?? [],
        currency: checkout.currency,
        awaitingPayment: true,
      });
      // One made before by this run (a retried step) may still be pending.
      memo.order =
        order.status === 'awaiting_payment'
          ? order
          : await transitionOrder(deps.orders, order._id, 'awaiting_payment', {}, order);
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
    // under this key and voids it. Its record is the fence, right before the payment is
    // recorded and the provider asked: a run overtaken by now asks it nothing.
    name: 'authorize_payment',
    intent: 'authorizing',
    done: 'authorized',
    recorded: true,
    async run(deps, checkout, request, memo) {
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
          memo.method ? { method: memo.method } : {},
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
      memo.payment = payment;
      return { paymentId: payment._id };
    },
    undo: (deps, checkout) => returnPayment(deps, checkout),
  },
];

/**
 * How far a run recorded at `step` may have got: up to the step before the next record.
 * (A run recorded by an earlier version at a step no longer recorded got no further.)
 */
export function reachedFrom(step: CheckoutStep): CheckoutStep {
  return step === 'started' ? 'order_created' : step;
}

/**
 * What compensating a run that got to `step` undoes, in that order: every step begun —
 * the one under way too, which may have done a part — from the last back to the first. A
 * step has begun once the step before it is done, or its own `intent` recorded.
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
  memo: RunMemo = {},
): Promise<RunOutcome> {
  // As recorded (or to be: a new run is first recorded at `authorizing`), with the fields
  // of the steps done since; `reached` is where it is.
  let run = checkout;
  let reached = run.step;
  let recorded = false;
  const record = async (at: CheckoutStep, fields?: Partial<CheckoutDoc>) => {
    run = await advance(deps, run, at, fields, { first: !recorded });
    recorded = true;
  };
  try {
    for (const saga of SAGA_STEPS) {
      if (saga.intent) {
        await record(saga.intent);
        reached = saga.intent;
      }
      const current = run;
      const fields = await step(saga.name, () => saga.run(deps, current, request, memo));
      if (saga.recorded) await record(saga.done, fields);
      else {
        run = { ...run, ...fields };
        deps.afterStep?.(saga.done);
      }
      reached = saga.done;
    }
  } catch (err) {
    if (err instanceof LeaseLost) return afterLeaseLost(deps, run, reached, err);
    return compensate(deps, run, err, reached, { recorded }).catch((failure: unknown) =>
      unsettled(run, failure),
    );
  }
  return completeCheckout(deps, run, memo);
}

/**
 * A run that lost its lease mid-step (paused past it: a stall, a frozen VM, a skewed
 * clock) may have done that step's work after the run that took over had undone the run:
 * an order made late, stock reserved late, an authorization landed late. When the run is
 * recorded compensated, that work is undone here as well (every undo is idempotent);
 * otherwise the run that holds it now settles it.
 */
async function afterLeaseLost(
  deps: SagaDeps,
  run: CheckoutDoc,
  reached: CheckoutStep,
  lost: LeaseLost,
): Promise<Settled> {
  try {
    const recorded = await deps.store.checkouts.findOne({ _id: run._id });
    if (recorded?.step === 'compensated') {
      const failure = recorded.failure ?? reasonOf(lost);
      for (const saga of stepsToUndo(reached))
        await step(`undo ${saga.name}`, () => saga.undo(deps, run, failure));
      deps.log.info({ checkoutId: run._id }, 'late work of an overtaken checkout undone');
    }
  } catch (err) {
    deps.log.warn({ err, checkoutId: run._id }, 'undoing the late work of an overtaken run failed');
  }
  return unsettled(run, lost);
}

/**
 * Forward from an authorized payment: capture, mark paid, keep the stock, empty the cart.
 * `memo` is what the run that authorized knows (none in recovery: then it reads).
 */
export async function completeCheckout(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  memo: RunMemo = {},
): Promise<RunOutcome> {
  const run = checkout;
  try {
    if (run.step === 'authorized') {
      if (!(await payOrder(deps, run, memo))) {
        const cancelled = conflict(
          'The order was cancelled while it was being paid; the payment was returned.',
          { reason: 'order_cancelled', orderId: run.orderId ?? '' },
        );
        return await compensate(deps, run, cancelled);
      }
      deps.afterStep?.('paid');
    }
    await step('finish', async () => {
      for (const line of run.lines ?? [])
        await commitReservation(
          deps.stock,
          line.productId,
          run._id,
          memo.reservations?.get(line.productId),
        );
      await emptyCart(deps.carts, run.buyerId, run._id);
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
 * order paid already (by a run that died before it recorded `completed`) is not paid
 * again, whatever became of it since — an admin may have refunded it. The order's status
 * is read before the capture even by the run that made it (`memo`): an admin may cancel
 * while the provider authorizes, and a cancelled order's authorization is voided, never
 * captured and refunded. A cancel after that read fails the move to paid, and the
 * captured payment is refunded.
 */
async function payOrder(deps: SagaDeps, checkout: CheckoutDoc, memo: RunMemo): Promise<boolean> {
  const orderId = checkout.orderId ?? '';
  const order = memo.order?._id === orderId ? memo.order : undefined;
  const made = memo.payment?._id === checkout.paymentId ? memo.payment : undefined;
  const status = await orderStatusOf(deps.orders, orderId);
  if (status === 'cancelled') return false;
  if (status && hasBeenPaid(status)) return true;
  const payment = await step('capture_payment', () =>
    capturePayment(deps.payments, made ?? checkout.paymentId ?? ''),
  );
  try {
    await step('mark_paid', () =>
      transitionOrder(deps.orders, orderId, 'paid', { paymentId: payment._id }, order),
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
  /** How far the run got; by default, as far as a run recorded where it is may have. */
  reached: CheckoutStep = reachedFrom(checkout.step),
  /** Whether the run is on record: one that is not yet is recorded compensated by an insert. */
  { recorded = true }: { recorded?: boolean } = {},
): Promise<Settled> {
  return step('compensate', () => compensateRun(deps, checkout, cause, reached, recorded));
}

async function compensateRun(
  deps: SagaDeps,
  checkout: CheckoutDoc,
  cause: unknown,
  reached: CheckoutStep,
  recorded: boolean,
): Promise<Settled> {
  const failure = reasonOf(cause);
  const failed: unknown[] = [];
  for (const saga of stepsToUndo(reached))
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
  const run = await advance(
    deps,
    checkout,
    'compensated',
    { failure, ...(answer && { answer }) },
    { first: !recorded },
  );
  deps.log.info({ checkoutId: checkout._id, ...failure }, 'checkout compensated');
  return { settled: 'compensated', error: cause, step: 'compensated', run };
}
