// A payment provider for development and tests, with documented test cards so every path
// of a checkout can be exercised. Its vault (payment methods) and ledger (authorizations)
// are collections of its own — it plays an external system, which remembers them across
// our restarts. The vault keeps of a card what the test cards need and a real provider
// shows — which test card it is, brand, last four, expiry — never the number or CVC.
// A vault entry never changes, so one looked up is kept in memory for the next look.
//
//   4242 4242 4242 4242  authorized
//   4000 0000 0000 0002  declined: card_declined
//   4000 0000 0000 9995  declined: insufficient_funds
//   4000 0000 0000 0259  authorized, but every attempt of the first try for a merchant
//                        reference answers only after SIMULATED_PROVIDER_DELAY_MS (the
//                        client times out not knowing the outcome); a later try of the
//                        same reference (a new authorization key) answers at once
//   any other number     tokenized, but declined: unknown_test_card (real cards never
//                        work here)
//   a method of another  declined: unknown_payment_method (payments.ts refuses it
//   customer, or none    before asking: a 422)
import { isDuplicateKey, newId } from '@gorten/kit';
import type { Collection } from 'mongodb';
import {
  cardBrand,
  ProviderRefusal,
  type AuthorizationOutcome,
  type AuthorizeRequest,
  type CardDetails,
  type DeclineCode,
  type PaymentMethod,
  type PaymentProvider,
} from './provider.js';

export const TEST_CARDS = {
  success: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  slowFirstAttempt: '4000000000000259',
} as const;

export type TestCard = keyof typeof TEST_CARDS;

const DECLINES: Partial<Record<TestCard, DeclineCode>> = {
  declined: 'card_declined',
  insufficientFunds: 'insufficient_funds',
};

/** The test card a number is, if it is one. */
function testCardOf(number: string): TestCard | null {
  const found = Object.entries(TEST_CARDS).find(([, n]) => n === number);
  return found ? (found[0] as TestCard) : null;
}

/** A payment method in the simulated provider's vault. */
export interface SimulatedVaultEntry extends Omit<PaymentMethod, 'id'> {
  /** The payment method's id, `pm_…`. */
  _id: string;
  /** Which test card was tokenized (what it does); null for any other number. */
  testCard: TestCard | null;
  createdAt: Date;
}

export interface SimulatedLedgerEntry {
  /** The authorization's idempotency key. */
  _id: string;
  paymentMethod: string;
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

function methodOf(entry: SimulatedVaultEntry): PaymentMethod {
  const { _id, customer, brand, last4, expMonth, expYear } = entry;
  return { id: _id, customer, brand, last4, expMonth, expYear };
}

/** What the card of the method (null: not the customer's, or none) answers. */
function decide(request: AuthorizeRequest, card: SimulatedVaultEntry | null): AuthorizationOutcome {
  if (!card)
    return {
      status: 'declined',
      code: 'unknown_payment_method',
      message: 'No such payment method for this customer.',
    };
  const decline = card.testCard ? DECLINES[card.testCard] : undefined;
  if (decline) return { status: 'declined', code: decline, message: 'The card was declined.' };
  if (!card.testCard)
    return {
      status: 'declined',
      code: 'unknown_test_card',
      message: 'Only the test cards work here.',
    };
  return { status: 'authorized', reference: referenceFor(request.idempotencyKey) };
}

/** How many vault entries a provider keeps in memory (the first ones looked up go first). */
const VAULT_ENTRIES_KEPT = 10_000;

export class SimulatedProvider implements PaymentProvider {
  readonly name = 'simulated';
  /**
   * Vault entries looked up, by id: an entry is written once and never changed, so a
   * checkout's second look (the authorization after the method's check) reads no database.
   */
  private readonly known = new Map<string, SimulatedVaultEntry>();

  constructor(
    private readonly vault: Collection<SimulatedVaultEntry>,
    private readonly ledger: Collection<SimulatedLedgerEntry>,
    private readonly slowMs: number,
  ) {}

  async tokenize(card: CardDetails, customer: string): Promise<PaymentMethod> {
    const entry: SimulatedVaultEntry = {
      _id: newId('pm'),
      customer,
      brand: cardBrand(card.number),
      last4: card.number.slice(-4),
      expMonth: card.expMonth,
      expYear: card.expYear,
      testCard: testCardOf(card.number),
      createdAt: new Date(),
    };
    await this.vault.insertOne(entry);
    return methodOf(entry);
  }

  /** The vault's entry `id`, if any. */
  private async entry(id: string): Promise<SimulatedVaultEntry | null> {
    const kept = this.known.get(id);
    if (kept) return kept;
    const entry = await this.vault.findOne({ _id: id });
    if (!entry) return null;
    if (this.known.size >= VAULT_ENTRIES_KEPT) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(id, entry);
    return entry;
  }

  async paymentMethod(id: string, customer: string): Promise<PaymentMethod | undefined> {
    const entry = await this.entry(id);
    return entry?.customer === customer ? methodOf(entry) : undefined;
  }

  async paymentMethods(customer: string, limit: number): Promise<PaymentMethod[]> {
    const entries = await this.vault
      .find({ customer })
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit)
      .toArray();
    return entries.map(methodOf);
  }

  async authorize(request: AuthorizeRequest, signal: AbortSignal): Promise<AuthorizationOutcome> {
    const method = await this.entry(request.paymentMethod);
    const card = method?.customer === request.customer ? method : null;
    // Slow for every attempt of a checkout's first try; a later try of the same merchant
    // reference (another authorization key) gets its answer at once.
    const slow =
      card?.testCard === 'slowFirstAttempt' &&
      !(await this.ledger.findOne({
        merchantReference: request.merchantReference,
        _id: { $ne: request.idempotencyKey },
      }));
    const outcome = (await this.record(request, card)).outcome;
    // Processed on the provider's side at once; only the answer is late.
    if (slow) await sleep(this.slowMs, signal);
    return outcome;
  }

  /**
   * The ledger entry for the request's key: the first answer, made once — written at
   * once; a key asked before meets its entry there and answers as it says.
   */
  private async record(
    request: AuthorizeRequest,
    card: SimulatedVaultEntry | null,
  ): Promise<SimulatedLedgerEntry> {
    const outcome = decide(request, card);
    const entry: SimulatedLedgerEntry = {
      _id: request.idempotencyKey,
      reference: outcome.status === 'authorized' ? outcome.reference : '',
      merchantReference: request.merchantReference,
      paymentMethod: request.paymentMethod,
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
      if (!isDuplicateKey(err)) throw err;
      const known = await this.ledger.findOne({ _id: request.idempotencyKey });
      if (!known) throw err;
      return known;
    }
  }

  /** The authorized entry `reference` names; null for a reference it never gave. */
  private async authorized(reference: string): Promise<SimulatedLedgerEntry | null> {
    if (!reference.startsWith('sim_')) return null;
    const entry = await this.ledger.findOne({ _id: keyOf(reference) });
    return entry?.reference === reference ? entry : null;
  }

  async capture(reference: string, amount: number): Promise<void> {
    // One conditional update; only when it is refused is the entry read, to say why.
    if (reference.startsWith('sim_')) {
      const captured = await this.ledger.updateOne(
        {
          _id: keyOf(reference),
          reference,
          status: { $in: ['authorized', 'captured'] },
          amount: { $gte: amount },
        },
        { $set: { status: 'captured', captured: amount } },
      );
      if (captured.matchedCount === 1) return;
    }
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
    // scan on FerretDB, but refunds are rare). A $nor of the equality, not $ne: FerretDB
    // 1.24 lets `{'refunds.key': {$ne: k}}` match when any other refund's key differs.
    await this.ledger.updateOne(
      { _id: entry._id, $nor: [{ 'refunds.key': refundKey }] },
      { $push: { refunds: { key: refundKey, amount } } },
    );
  }
}
