// Payment operations. Buyers tokenize a card into a payment method (the provider keeps
// the card; we never do); checkout authorizes with the method, captures and voids;
// orders refund. Each money operation is idempotent: an authorization is one payment per
// key, and the provider is asked with the same key again when its answer was lost;
// capture, void and refund of a payment already in the target state change nothing. A
// provider call that fails or times out leaves the outcome unknown (PaymentOutcomeUnknown):
// the caller voids by key. A void decides the key for good: one that comes first leaves a
// voided payment in place of the authorization, and an authorization that lands after it
// is voided at the provider too.
import { createHash } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import {
  conflict,
  isDuplicateKey,
  notFound,
  spanned,
  unprocessable,
  type DependencyPolicy,
} from '@gorten/kit';
import { assertMove } from './lifecycle.js';
import type { PaymentMetrics } from './metrics.js';
import {
  cardExpired,
  luhnValid,
  type CardDetails,
  type PaymentMethod,
  type PaymentProvider,
} from './provider.js';
import type { PaymentDoc, PaymentStatus, PaymentsStore } from './store.js';

/** What the payment functions work with; checkout and orders build it too. */
export interface PaymentModule {
  store: PaymentsStore;
  provider: PaymentProvider;
  /** Timeout, retries (provider calls are idempotent), circuit breaker, bulkhead. */
  policy: DependencyPolicy;
  /** The money moved (gorten_payment_amount_minor_units_total). */
  metrics: PaymentMetrics;
  now: () => Date;
}

export class PaymentOutcomeUnknown extends Error {
  override name = 'PaymentOutcomeUnknown';
}

async function move(
  payments: PaymentModule,
  payment: PaymentDoc,
  to: PaymentStatus,
  fields: Partial<PaymentDoc> = {},
): Promise<PaymentDoc> {
  assertMove(payment.status, to);
  const next = {
    ...payment,
    ...fields,
    status: to,
    version: payment.version + 1,
    updatedAt: payments.now(),
  };
  const { _id, ...set } = next;
  const written = await payments.store.payments.updateOne(
    { _id, version: payment.version },
    { $set: set },
  );
  if (written.matchedCount === 0) throw conflict('The payment changed meanwhile; try again.');
  payments.metrics.moved(payment, next);
  return next;
}

/**
 * `move`, for a move that repeats an idempotent provider call: when another call with the
 * same intent (the same key, the same capture) stored it first, the version moved on and
 * `move` finds a conflict — but the work is done, so its result is this call's answer.
 */
async function moveOnce(
  payments: PaymentModule,
  payment: PaymentDoc,
  to: PaymentStatus,
  fields: Partial<PaymentDoc>,
  done: (current: PaymentDoc) => boolean,
): Promise<PaymentDoc> {
  try {
    return await move(payments, payment, to, fields);
  } catch (err) {
    const current = await payments.store.payments.findOne({ _id: payment._id });
    if (current && done(current)) return current;
    throw err;
  }
}

/**
 * The id of the payment made for an authorization key, derived from the key: the key
 * finds its payment by `_id` (the one filter FerretDB hands to SQLite; any other decodes
 * the whole collection), and `_id` makes it one payment per key. Shaped like `newId('pay')`.
 */
export function paymentIdFor(key: string): string {
  return `pay_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

export interface AuthorizeInput {
  key: string;
  merchantReference: string;
  orderId: string;
  buyerId: string;
  amount: number;
  currency: string;
  /** The buyer's payment method (`pm_…`, from `createPaymentMethod`). */
  paymentMethod: string;
}

/**
 * Tokenizes a buyer's card at the provider: the one place card details pass through,
 * straight to the provider, never stored here. (A retry after a lost answer may leave
 * an unused method behind at the provider: harmless, nobody names it.)
 */
export function createPaymentMethod(
  payments: PaymentModule,
  buyerId: string,
  card: CardDetails,
): Promise<PaymentMethod> {
  // Well-formed but not a card the provider would take: a 422 (a 400 is a broken format).
  const refused = [
    ...(luhnValid(card.number)
      ? []
      : [{ in: 'body', path: 'number', message: 'not a valid card number (Luhn check)' }]),
    ...(cardExpired(card.expMonth, card.expYear, payments.now())
      ? [{ in: 'body', path: 'expYear', message: 'the card has expired' }]
      : []),
  ];
  if (refused.length > 0)
    return Promise.reject(
      unprocessable('The card cannot be used.', { reason: 'invalid_card', errors: refused }),
    );
  return payments.policy.execute((signal) => payments.provider.tokenize(card, buyerId, signal));
}

/** How many payment methods a buyer's list shows (a buyer keeps a handful, not pages). */
export const PAYMENT_METHODS_LISTED = 100;

/** The buyer's own payment methods, newest first. */
export function paymentMethodsOf(
  payments: PaymentModule,
  buyerId: string,
): Promise<PaymentMethod[]> {
  return payments.policy.execute((signal) =>
    payments.provider.paymentMethods(buyerId, PAYMENT_METHODS_LISTED, signal),
  );
}

/** The buyer's payment method `id`; a 422 when it is not theirs, or no method at all. */
export async function paymentMethodOf(
  payments: PaymentModule,
  id: string,
  buyerId: string,
): Promise<PaymentMethod> {
  const method = await payments.policy.execute((signal) =>
    payments.provider.paymentMethod(id, buyerId, signal),
  );
  // The same answer for another buyer's method as for none: ids are not confirmed.
  if (!method)
    throw unprocessable('No such payment method of yours: make one with POST /payments/methods.', {
      reason: 'unknown_payment_method',
    });
  return method;
}

/** The payment with this id, if any (checkout reads what was captured before returning it). */
export async function paymentOf(
  payments: PaymentModule,
  paymentId: string,
): Promise<PaymentDoc | undefined> {
  return (await payments.store.payments.findOne({ _id: paymentId })) ?? undefined;
}

export interface AuthorizeOptions {
  /**
   * The payment method as the caller looked it up (`paymentMethodOf`, for this buyer):
   * the payment is then recorded at once — no look for one under the key first, the
   * method not asked for again; one made before under the key (a retry) is found when
   * the insert meets it.
   */
  method?: PaymentMethod;
}

/** A payment as first written under its authorization key: nothing captured yet. */
function newPayment(
  payments: PaymentModule,
  key: string,
  of: Authorization,
  status: PaymentStatus,
  card: PaymentDoc['card'],
): PaymentDoc {
  const now = payments.now();
  return {
    _id: paymentIdFor(key),
    authorizationKey: key,
    orderId: of.orderId,
    buyerId: of.buyerId,
    amount: of.amount,
    currency: of.currency,
    status,
    provider: payments.provider.name,
    card,
    captured: 0,
    refunded: 0,
    refunds: [],
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

async function authorize(
  payments: PaymentModule,
  input: AuthorizeInput,
  { method: known }: AuthorizeOptions = {},
): Promise<PaymentDoc> {
  const id = paymentIdFor(input.key);
  const ofTheBuyer = known?.id === input.paymentMethod && known.customer === input.buyerId;
  let payment = ofTheBuyer ? null : await payments.store.payments.findOne({ _id: id });
  if (!payment) {
    const method = ofTheBuyer
      ? known
      : await paymentMethodOf(payments, input.paymentMethod, input.buyerId);
    const doc = newPayment(payments, input.key, input, 'authorizing', {
      brand: method.brand,
      last4: method.last4,
    });
    try {
      await payments.store.payments.insertOne(doc);
      payment = doc;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      payment = await payments.store.payments.findOne({ _id: id }); // made meanwhile by a retry
      if (!payment) throw err;
    }
  }
  if (payment.status !== 'authorizing') return payment; // decided before: the same answer
  let outcome;
  try {
    outcome = await payments.policy.execute((signal) =>
      payments.provider.authorize(
        {
          idempotencyKey: input.key,
          merchantReference: input.merchantReference,
          amount: input.amount,
          currency: input.currency,
          paymentMethod: input.paymentMethod,
          customer: input.buyerId,
        },
        signal,
      ),
    );
  } catch (err) {
    throw new PaymentOutcomeUnknown(`authorization ${input.key}: ${(err as Error).message}`);
  }
  // Another call with this key may have stored the provider's answer first (the
  // provider answers a key the same every time): that answer is this call's too.
  const decided = (current: PaymentDoc) => current.status !== 'authorizing';
  if (outcome.status === 'declined')
    return moveOnce(payments, payment, 'declined', { declineCode: outcome.code }, decided);
  const recorded = await moveOnce(
    payments,
    payment,
    'authorized',
    { providerReference: outcome.reference },
    decided,
  );
  // Voided while the provider was still at work (the void found nothing to cancel then):
  // what the provider made since is cancelled now.
  if (recorded.status === 'voided')
    await payments.policy.execute((signal) => payments.provider.void(input.key, signal));
  return recorded;
}

/** What an authorization under a key is for: a void that comes first records it so. */
export type Authorization = Pick<AuthorizeInput, 'orderId' | 'buyerId' | 'amount' | 'currency'>;

/**
 * Cancels the authorization made under `key`, also one whose outcome is unknown, and one
 * not asked for yet: then a voided payment takes its place, so that an authorization
 * asked for later (by a run that lost its lease on the way) is decided before it reaches
 * the provider. Idempotent. When the provider answers that it captured the money (a
 * capture whose recording was lost), the payment is recorded captured and returned so:
 * the caller refunds it.
 */
async function voidByKey(
  payments: PaymentModule,
  key: string,
  authorization: Authorization,
): Promise<PaymentDoc> {
  const payment =
    (await payments.store.payments.findOne({ _id: paymentIdFor(key) })) ??
    (await voidedInPlace(payments, key, authorization));
  if (payment.status === 'voided' || payment.status === 'declined') return payment;
  // Captured money is refunded, not voided: refused before the provider is bothered.
  assertMove(payment.status, 'voided');
  const answer = await payments.policy.execute((signal) => payments.provider.void(key, signal));
  if (answer === 'captured')
    // Captured at the provider, the crash coming before it was recorded here: recorded
    // now, and the caller refunds it.
    return moveOnce(
      payments,
      payment,
      'captured',
      { captured: payment.amount },
      (current) => current.captured > 0,
    );
  return moveOnce(payments, payment, 'voided', {}, (current) => current.status === 'voided');
}

/** The voided payment that stands for an authorization never asked for; or what was. */
async function voidedInPlace(
  payments: PaymentModule,
  key: string,
  authorization: Authorization,
): Promise<PaymentDoc> {
  // No card was ever given for it.
  const voided = newPayment(payments, key, authorization, 'voided', { brand: 'none', last4: '' });
  try {
    await payments.store.payments.insertOne(voided);
    return voided;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const made = await payments.store.payments.findOne({ _id: voided._id }); // asked meanwhile
    if (!made) throw err;
    return made;
  }
}

/**
 * Captures the payment; `payment` may be the payment as the caller last had it back from
 * here (checkout, from authorizePayment): then it is not read again — if it moved on
 * since, the move finds the conflict.
 */
async function capture(
  payments: PaymentModule,
  payment_: string | PaymentDoc,
): Promise<PaymentDoc> {
  const payment =
    typeof payment_ === 'string'
      ? await payments.store.payments.findOne({ _id: payment_ })
      : payment_;
  if (!payment) throw notFound('No such payment.');
  if (payment.status === 'captured') return payment;
  assertMove(payment.status, 'captured');
  const reference = payment.providerReference ?? '';
  await payments.policy.execute((signal) =>
    payments.provider.capture(reference, payment.amount, signal),
  );
  return moveOnce(
    payments,
    payment,
    'captured',
    { captured: payment.amount },
    (current) => current.status === 'captured',
  );
}

async function refund(
  payments: PaymentModule,
  paymentId: string,
  refund: { key: string; amount?: number; reason: string },
): Promise<PaymentDoc> {
  const payment = await payments.store.payments.findOne({ _id: paymentId });
  if (!payment) throw notFound('No such payment.');
  if (payment.refunds.some((r) => r.key === refund.key)) return payment;
  const amount = refund.amount ?? payment.captured - payment.refunded;
  if (amount <= 0 || payment.refunded + amount > payment.captured)
    throw unprocessable(
      `At most ${payment.captured - payment.refunded} ${payment.currency} minor units can be refunded.`,
    );
  const refunded = payment.refunded + amount;
  const to = refunded === payment.captured ? 'refunded' : 'partially_refunded';
  assertMove(payment.status, to);
  const reference = payment.providerReference ?? '';
  await payments.policy.execute((signal) =>
    payments.provider.refund(reference, amount, refund.key, signal),
  );
  return moveOnce(
    payments,
    payment,
    to,
    {
      refunded,
      refunds: [
        ...payment.refunds,
        { key: refund.key, amount, reason: refund.reason, at: payments.now() },
      ],
    },
    (current) => current.refunds.some((r) => r.key === refund.key),
  );
}

// Each money operation is a span of its own; the provider calls inside it are CLIENT spans
// (provider-tracing.ts).
const tracer = trace.getTracer('@gorten/payments');
export const authorizePayment = spanned(tracer, 'payments authorize', authorize);
export const capturePayment = spanned(tracer, 'payments capture', capture);
export const voidPayment = spanned(tracer, 'payments void', voidByKey);
export const refundPayment = spanned(tracer, 'payments refund', refund);
