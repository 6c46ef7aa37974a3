// A payment provider for development and tests, with documented test cards so every path
// of a checkout can be exercised. Its ledger is a collection of its own — it plays an
// external system, which remembers authorizations across our restarts.
//
//   4242 4242 4242 4242  authorized
//   4000 0000 0000 0002  declined: card_declined
//   4000 0000 0000 9995  declined: insufficient_funds
//   4000 0000 0000 0259  authorized, but every attempt of the first try for a merchant
//                        reference answers only after SIMULATED_PROVIDER_DELAY_MS (the
//                        client times out not knowing the outcome); a later try of the
//                        same reference (a new authorization key) answers at once
//   any other number     declined: unknown_test_card (real cards never work here)
import { MongoServerError, type Collection } from 'mongodb';
import {
  ProviderRefusal,
  type AuthorizationOutcome,
  type AuthorizeRequest,
  type DeclineCode,
  type PaymentProvider,
} from './provider.js';

export const TEST_CARDS = {
  success: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  slowFirstAttempt: '4000000000000259',
} as const;

const DECLINES: Record<string, DeclineCode> = {
  [TEST_CARDS.declined]: 'card_declined',
  [TEST_CARDS.insufficientFunds]: 'insufficient_funds',
};

export interface SimulatedLedgerEntry {
  /** The authorization's idempotency key. */
  _id: string;
  /** `referenceFor(_id)`, empty for a decline. */
  reference: string;
  merchantReference: string;
  amount: number;
  currency: string;
  outcome: AuthorizationOutcome;
  status: 'authorized' | 'declined' | 'captured' | 'voided';
  captured: number;
  refunds: { key: string; amount: number }[];
  createdAt: Date;
}

/**
 * The reference of an authorization carries its key, so capture and refund find the
 * ledger entry by `_id` (a lookup by any other field decodes FerretDB's whole ledger).
 */
function referenceFor(key: string): string {
  return `sim_${Buffer.from(key).toString('base64url')}`;
}

function keyOf(reference: string): string {
  return Buffer.from(reference.slice('sim_'.length), 'base64url').toString();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted by the caller'));
    });
  });
}

export class SimulatedProvider implements PaymentProvider {
  readonly name = 'simulated';

  constructor(
    private readonly ledger: Collection<SimulatedLedgerEntry>,
    private readonly slowMs: number,
  ) {}

  async authorize(request: AuthorizeRequest, signal: AbortSignal): Promise<AuthorizationOutcome> {
    // Slow for every attempt of a checkout's first try; a later try of the same merchant
    // reference (another authorization key) gets its answer at once.
    const slow =
      request.card.number === TEST_CARDS.slowFirstAttempt &&
      !(await this.ledger.findOne({
        merchantReference: request.merchantReference,
        _id: { $ne: request.idempotencyKey },
      }));
    const outcome = (await this.record(request)).outcome;
    // Processed on the provider's side at once; only the answer is late.
    if (slow) await sleep(this.slowMs, signal);
    return outcome;
  }

  /** The ledger entry for the request's key: the first answer, made once. */
  private async record(request: AuthorizeRequest): Promise<SimulatedLedgerEntry> {
    const known = await this.ledger.findOne({ _id: request.idempotencyKey });
    if (known) return known;
    const decline = DECLINES[request.card.number];
    const outcome: AuthorizationOutcome =
      decline !== undefined || !Object.values(TEST_CARDS).includes(request.card.number as never)
        ? {
            status: 'declined',
            code: decline ?? 'unknown_test_card',
            message: decline ? 'The card was declined.' : 'Only the test cards work here.',
          }
        : { status: 'authorized', reference: referenceFor(request.idempotencyKey) };
    const entry: SimulatedLedgerEntry = {
      _id: request.idempotencyKey,
      reference: outcome.status === 'authorized' ? outcome.reference : '',
      merchantReference: request.merchantReference,
      amount: request.amount,
      currency: request.currency,
      outcome,
      status: outcome.status === 'authorized' ? 'authorized' : 'declined',
      captured: 0,
      refunds: [],
      createdAt: new Date(),
    };
    try {
      await this.ledger.insertOne(entry);
      return entry;
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
      return (await this.ledger.findOne({ _id: request.idempotencyKey })) ?? entry;
    }
  }

  /** The authorized entry `reference` names; null for a reference it never gave. */
  private async authorized(reference: string): Promise<SimulatedLedgerEntry | null> {
    if (!reference.startsWith('sim_')) return null;
    const entry = await this.ledger.findOne({ _id: keyOf(reference) });
    return entry?.reference === reference ? entry : null;
  }

  async capture(reference: string, amount: number): Promise<void> {
    const entry = await this.authorized(reference);
    if (!entry || (entry.status !== 'authorized' && entry.status !== 'captured'))
      throw new ProviderRefusal(`simulated provider: ${reference} cannot be captured`);
    if (amount > entry.amount)
      throw new ProviderRefusal('simulated provider: capture above authorization');
    await this.ledger.updateOne(
      { _id: entry._id },
      { $set: { status: 'captured', captured: amount } },
    );
  }

  async void(idempotencyKey: string): Promise<'voided' | 'not_found' | 'captured'> {
    const entry = await this.ledger.findOne({ _id: idempotencyKey });
    if (!entry) return 'not_found';
    if (entry.status === 'captured') return 'captured'; // refunded, not voided
    await this.ledger.updateOne({ _id: idempotencyKey }, { $set: { status: 'voided' } });
    return 'voided';
  }

  async refund(reference: string, amount: number, refundKey: string): Promise<void> {
    const entry = await this.authorized(reference);
    if (entry?.status !== 'captured')
      throw new ProviderRefusal('simulated provider: nothing captured');
    if (entry.refunds.some((r) => r.key === refundKey)) return;
    const refunded = entry.refunds.reduce((sum, r) => sum + r.amount, 0);
    if (refunded + amount > entry.captured)
      throw new ProviderRefusal('simulated provider: over-refund');
    // The condition keeps two concurrent refunds with one key from both landing (a
    // scan on FerretDB, but refunds are rare).
    await this.ledger.updateOne(
      { _id: entry._id, 'refunds.key': { $ne: refundKey } },
      { $push: { refunds: { key: refundKey, amount } } },
    );
  }
}
