// Payments against the real FerretDB: the payment operations checkout and orders call
// (authorize, void, capture, refund — each idempotent) with the simulated provider and
// its test cards, and the payments service over HTTP on port 0 (tokenizing a card into a
// payment method, reading payments, the test cards). Only the provider sees a card: no
// number or CVC is stored anywhere, brand, last four and expiry are all that is kept.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { DependencyMetrics, idPattern, newId, type RunningService } from '@gorten/kit';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Call,
} from '@gorten/service-testing';
import { paymentsService } from '../src/app.js';
import type { PaymentProviderSettings } from '../src/config.js';
import type { PaymentsDeps } from '../src/deps.js';
import { createPaymentModule } from '../src/module.js';
import {
  authorizePayment,
  capturePayment,
  createPaymentMethod,
  PaymentOutcomeUnknown,
  paymentIdFor,
  paymentMethodOf,
  refundPayment,
  voidPayment,
  type AuthorizeInput,
  type PaymentModule,
} from '../src/payments.js';
import type { Payment } from '../src/schemas.js';
import { TEST_CARDS } from '../src/simulated-provider.js';

let tenant: TestTenant;
let service: RunningService<PaymentsDeps>;
let call: Call;
let paymentModule: PaymentModule;

beforeAll(async () => {
  tenant = await TestTenant.create('payments');
  // The service creates the payments indexes (one payment per authorization key).
  service = await startTestService(paymentsService, tenant, 'payments', {
    SIMULATED_PROVIDER_DELAY_MS: '0',
  });
  call = client(service.url);
  paymentModule = opsWith({ PAYMENT_PROVIDER_TIMEOUT_MS: 3_000, SIMULATED_PROVIDER_DELAY_MS: 0 });
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

function opsWith(settings: Omit<PaymentProviderSettings, 'PAYMENT_PROVIDER'>): PaymentModule {
  return createPaymentModule(
    tenant.db,
    { PAYMENT_PROVIDER: 'simulated', ...settings },
    new DependencyMetrics(new Registry()),
  );
}

const card = (number: string) => ({ number, expMonth: 12, expYear: 2031, cvc: '123' });

/** An authorization of a buyer (new unless named) with their method for `number`. */
async function request(
  fields: Partial<AuthorizeInput> & { number?: string } = {},
): Promise<AuthorizeInput> {
  const { number = TEST_CARDS.success, ...rest } = fields;
  const buyerId = rest.buyerId ?? newId('usr');
  const paymentMethod =
    rest.paymentMethod ?? (await createPaymentMethod(paymentModule, buyerId, card(number))).id;
  return {
    key: randomUUID(),
    merchantReference: newId('chk'),
    orderId: newId('ord'),
    amount: 1_000,
    currency: 'EUR',
    ...rest,
    buyerId,
    paymentMethod,
  };
}

const payments = () => paymentModule.store.payments;
const ledger = () => paymentModule.store.ledger;

async function problemOf(work: Promise<unknown>): Promise<{ status?: number }> {
  try {
    await work;
  } catch (err) {
    return err as { status?: number };
  }
  throw new Error('expected a failure');
}

async function captured(amount = 1_000, fields: Partial<AuthorizeInput> = {}) {
  const authorized = await authorizePayment(paymentModule, await request({ amount, ...fields }));
  return capturePayment(paymentModule, authorized._id);
}

describe('payment methods: the provider tokenizes, and keeps the card to itself', () => {
  const tokenOf = (id: string) => tenant.token({ sub: id, roles: ['buyer'] });
  const tokenize = (token: string | undefined, body: unknown) =>
    call('POST', '/payments/methods', { token, body });

  test('a buyer’s card becomes a pm_… with brand, last four and expiry; no number or CVC is stored anywhere', async () => {
    const buyer = newId('usr');
    const cvc = '7319';
    const answer = await tokenize(tokenOf(buyer), {
      number: TEST_CARDS.success,
      expMonth: 11,
      expYear: 2033,
      cvc,
    });
    expect(answer).toMatchObject({
      status: 201,
      body: { brand: 'visa', last4: '4242', expMonth: 11, expYear: 2033 },
    });
    expect(Object.keys(answer.body).sort()).toEqual([
      'brand',
      'expMonth',
      'expYear',
      'id',
      'last4',
    ]);
    const id = answer.body.id as string;
    expect(id).toMatch(idPattern('pm'));
    // It pays, and the payment shows what the method shows.
    const payment = await authorizePayment(
      paymentModule,
      await request({ buyerId: buyer, paymentMethod: id }),
    );
    expect(payment).toMatchObject({ status: 'authorized', card: { brand: 'visa', last4: '4242' } });
    await capturePayment(paymentModule, payment._id);
    // The provider's vault keeps which test card it is, brand, last four and expiry.
    expect(await paymentModule.store.vault.findOne({ _id: id })).toEqual({
      _id: id,
      customer: buyer,
      brand: 'visa',
      last4: '4242',
      expMonth: 11,
      expYear: 2033,
      testCard: 'success',
      createdAt: expect.any(Date) as unknown,
    });
    // Nowhere — the vault and ledger included — a number, a CVC, or a field for one.
    const stored = await tenant.storedFields();
    expect(
      stored.filter((f) => f.collection === 'simulated_provider_vault').length,
    ).toBeGreaterThan(0);
    const cardData = stored.filter(
      (f) =>
        Object.values(TEST_CARDS).some((n) => f.value.includes(n)) ||
        f.value === cvc ||
        /(^|\.)(number|cvc|card\.(number|cvc|exp\w*))$/i.test(f.path),
    );
    expect(cardData).toEqual([]);
  });

  const now = new Date();
  const [thisMonth, thisYear] = [now.getUTCMonth() + 1, now.getUTCFullYear()];
  const lastMonth = thisMonth === 1 ? [12, thisYear - 1] : [thisMonth - 1, thisYear];
  const good = { number: TEST_CARDS.success, expMonth: 12, expYear: 2031, cvc: '123' };

  test.each([
    ['a number with spaces', { number: '4242 4242 4242 4242' }, 'number'],
    ['a number with dashes', { number: '4242-4242-4242-4242' }, 'number'],
    ['11 digits', { number: '79927398713' }, 'number'],
    ['20 digits', { number: '42424242424242424242' }, 'number'],
    ['month 0', { expMonth: 0 }, 'expMonth'],
    ['month 13', { expMonth: 13 }, 'expMonth'],
    ['a two-digit year', { expYear: 31 }, 'expYear'],
    ['a CVC of 2 digits', { cvc: '12' }, 'cvc'],
    ['a CVC of 5 digits', { cvc: '12345' }, 'cvc'],
    ['a CVC as a number', { cvc: 123 }, 'cvc'],
  ])('%s is a 400 naming the field, without echoing the card', async (_why, change, path) => {
    const body = { ...good, ...change };
    const answer = await tokenize(tokenOf(newId('usr')), body);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([expect.objectContaining({ in: 'body', path })]);
    expect(JSON.stringify(answer.body)).not.toContain(body.number);
  });

  test.each([
    ['a number failing the Luhn check', { number: '4242424242424241' }, 'number'],
    ['an expired card (last month)', { expMonth: lastMonth[0], expYear: lastMonth[1] }, 'expYear'],
  ])('%s is well formed but no card: a 422 naming the field', async (_why, change, path) => {
    const body = { ...good, ...change };
    const answer = await tokenize(tokenOf(newId('usr')), body);
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ reason: 'invalid_card' });
    expect(answer.body.errors).toEqual([expect.objectContaining({ in: 'body', path })]);
    expect(JSON.stringify(answer.body)).not.toContain(body.number);
  });

  test('a buyer lists their own payment methods, newest first, and no one else’s', async () => {
    const [me, other] = [tokenOf(newId('usr')), tokenOf(newId('usr'))];
    const first = await tokenize(me, good);
    const second = await tokenize(me, { ...good, number: TEST_CARDS.declined });
    await tokenize(other, good);
    const mine = await call('GET', '/payments/methods', { token: me });
    expect(mine.status).toBe(200);
    expect(mine.body.items).toEqual([second.body, first.body]);
    expect(JSON.stringify(mine.body)).not.toContain('customer');
  });

  test('a card good through this month is accepted; unknown fields are refused', async () => {
    const thisMonthCard = { ...good, expMonth: thisMonth, expYear: thisYear };
    expect((await tokenize(tokenOf(newId('usr')), thisMonthCard)).status).toBe(201);
    expect((await tokenize(tokenOf(newId('usr')), { ...good, name: 'A. Buyer' })).status).toBe(400);
  });

  test('only buyers tokenize; no token and forged tokens are 401', async () => {
    const seller = tenant.token({
      sub: newId('usr'),
      roles: ['seller'],
      company: 'co_0123456789abcdef01234567',
    });
    const admin = tenant.token({ sub: newId('usr'), roles: ['admin'] });
    expect((await tokenize(seller, good)).status).toBe(403);
    expect((await tokenize(admin, good)).status).toBe(403);
    expect((await tokenize(undefined, good)).status).toBe(401);
    for (const forged of forgedTokens(tenant, { sub: newId('usr'), roles: ['buyer'] })) {
      const answer = await tokenize(forged.token, good);
      expect({ why: forged.why, status: answer.status }).toEqual({ why: forged.why, status: 401 });
    }
  });

  test('a method is its buyer’s: another buyer cannot pay with it (422), nor with an unknown one', async () => {
    const [me, other] = [newId('usr'), newId('usr')];
    const mine = await createPaymentMethod(paymentModule, me, card(TEST_CARDS.success));
    expect(await paymentMethodOf(paymentModule, mine.id, me)).toMatchObject({ id: mine.id });
    for (const [buyerId, id] of [
      [other, mine.id],
      [me, newId('pm')],
    ] as const) {
      const refused = await problemOf(paymentMethodOf(paymentModule, id, buyerId));
      expect(refused).toMatchObject({
        status: 422,
        extensions: { reason: 'unknown_payment_method' },
      });
      const input = await request({ buyerId, paymentMethod: id });
      expect((await problemOf(authorizePayment(paymentModule, input))).status).toBe(422);
      expect(await payments().findOne({ authorizationKey: input.key })).toBeNull();
    }
    // The provider checks it too: asked directly, it declines another customer's method.
    const outcome = await paymentModule.provider.authorize(
      {
        idempotencyKey: randomUUID(),
        merchantReference: newId('chk'),
        amount: 100,
        currency: 'EUR',
        paymentMethod: mine.id,
        customer: other,
      },
      new AbortController().signal,
    );
    expect(outcome).toMatchObject({ status: 'declined', code: 'unknown_payment_method' });
  });
});

describe('authorizing with the test cards', () => {
  test('4242… is authorized; brand and last four are kept, never the number', async () => {
    const input = await request();
    const payment = await authorizePayment(paymentModule, input);
    expect(payment).toMatchObject({
      authorizationKey: input.key,
      orderId: input.orderId,
      buyerId: input.buyerId,
      amount: 1_000,
      currency: 'EUR',
      status: 'authorized',
      provider: 'simulated',
      card: { brand: 'visa', last4: '4242' },
      captured: 0,
      refunded: 0,
    });
    expect(payment.providerReference).toMatch(/^sim_/);
    const stored = await payments().findOne({ _id: payment._id });
    expect(stored).toMatchObject({ status: 'authorized', version: 2 });
    expect(JSON.stringify(stored)).not.toContain(TEST_CARDS.success);
    const entry = await ledger().findOne({ _id: input.key });
    expect(entry).toMatchObject({
      status: 'authorized',
      reference: payment.providerReference,
      merchantReference: input.merchantReference,
      amount: 1_000,
    });
    expect(JSON.stringify(entry)).not.toContain(TEST_CARDS.success);
  });

  test.each([
    ['4000…0002', TEST_CARDS.declined, 'card_declined'],
    ['4000…9995', TEST_CARDS.insufficientFunds, 'insufficient_funds'],
    ['any other card', '5555555555554444', 'unknown_test_card'],
  ])('%s is declined: %s', async (_name, number, code) => {
    const input = await request({ number });
    const payment = await authorizePayment(paymentModule, input);
    expect(payment).toMatchObject({ status: 'declined', declineCode: code, captured: 0 });
    expect(payment.providerReference).toBeUndefined();
    expect((await ledger().findOne({ _id: input.key }))?.status).toBe('declined');
    expect((await problemOf(capturePayment(paymentModule, payment._id))).status).toBe(409);
  });

  test('one payment and one ledger entry per key, however often it is asked', async () => {
    for (const number of [TEST_CARDS.success, TEST_CARDS.declined]) {
      const input = await request({ number });
      const first = await authorizePayment(paymentModule, input);
      const again = await authorizePayment(paymentModule, input);
      expect(again).toEqual(first);
      // A retry is the same intent: its answer is the first one, whatever it carries.
      const altered = await authorizePayment(paymentModule, { ...input, amount: 5 });
      expect(altered._id).toBe(first._id);
      expect(altered.amount).toBe(1_000);
      expect(await payments().countDocuments({ authorizationKey: input.key })).toBe(1);
      expect(await ledger().countDocuments({ _id: input.key })).toBe(1);
    }
  });

  test('with the method as the caller checked it: the same payment, once per key; a method not the buyer’s is looked up as usual', async () => {
    const input = await request();
    const method = await paymentMethodOf(paymentModule, input.paymentMethod, input.buyerId);
    const first = await authorizePayment(paymentModule, input, { method });
    expect(first).toMatchObject({ status: 'authorized', card: { last4: '4242' } });
    // Asked again with it: the insert meets the payment, which answers.
    expect(await authorizePayment(paymentModule, input, { method })).toEqual(first);
    expect(await payments().countDocuments({ authorizationKey: input.key })).toBe(1);
    // Captured from the payment as held, as from its id.
    expect(await capturePayment(paymentModule, first)).toMatchObject({ status: 'captured' });
    expect(await capturePayment(paymentModule, first._id)).toMatchObject({ status: 'captured' });
    expect((await ledger().findOne({ _id: input.key }))?.status).toBe('captured');

    // Another buyer's method handed over is not taken for this buyer's: declined as usual.
    const other = await request();
    const stranger = await request({ paymentMethod: other.paymentMethod });
    const theirs = await paymentMethodOf(paymentModule, other.paymentMethod, other.buyerId);
    await expect(
      authorizePayment(paymentModule, stranger, { method: theirs }),
    ).rejects.toMatchObject({ status: 422 });
    expect(await payments().countDocuments({ authorizationKey: stranger.key })).toBe(0);
  });

  test('a key finds its payment by _id; a reference finds its ledger entry by the key it carries', async () => {
    const input = await request();
    const payment = await authorizePayment(paymentModule, input);
    expect(payment._id).toBe(paymentIdFor(input.key));
    expect(payment._id).toMatch(idPattern('pay'));
    expect(paymentIdFor(`${input.key}x`)).not.toBe(payment._id);
    expect(await payments().findOne({ _id: paymentIdFor(input.key) })).toMatchObject({
      authorizationKey: input.key,
    });

    // Only a reference the provider gave names an entry: not a declined key's, not one
    // that was altered, not another provider's.
    const declined = await request({ number: TEST_CARDS.declined });
    await authorizePayment(paymentModule, declined);
    const signal = new AbortController().signal;
    for (const forged of [
      `sim_${Buffer.from(declined.key).toString('base64url')}`,
      `${payment.providerReference ?? ''}AA`,
      `ch_${Buffer.from(input.key).toString('base64url')}`,
    ])
      await expect(paymentModule.provider.capture(forged, 1, signal)).rejects.toThrow(
        /cannot be captured/,
      );
    expect((await ledger().findOne({ _id: declined.key }))?.status).toBe('declined');
    expect((await capturePayment(paymentModule, payment._id)).status).toBe('captured');
  });

  test('the same key asked at once from several places: one payment, the same answer', async () => {
    const input = await request();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => authorizePayment(paymentModule, input)),
    );
    expect(new Set(answers.map((a) => a._id)).size).toBe(1);
    expect(answers.every((a) => a.status === 'authorized')).toBe(true);
    expect(await payments().countDocuments({ authorizationKey: input.key })).toBe(1);
    expect(await ledger().countDocuments({ _id: input.key })).toBe(1);
  });

  test('the slow card: the first try of a reference answers too late, another try at once', async () => {
    // The slow card answers a minute late; one client gives up after a second, another
    // waits fifteen: only an answer that is not delayed reaches either.
    const impatient = opsWith({
      PAYMENT_PROVIDER_TIMEOUT_MS: 1_000,
      SIMULATED_PROVIDER_DELAY_MS: 60_000,
    });
    const patient = opsWith({
      PAYMENT_PROVIDER_TIMEOUT_MS: 15_000,
      SIMULATED_PROVIDER_DELAY_MS: 60_000,
    });
    const reference = newId('chk');
    const first = await request({
      merchantReference: reference,
      number: TEST_CARDS.slowFirstAttempt,
    });
    await expect(authorizePayment(impatient, first)).rejects.toBeInstanceOf(PaymentOutcomeUnknown);
    expect((await payments().findOne({ authorizationKey: first.key }))?.status).toBe('authorizing');
    // The provider did authorize it: only the answer was lost.
    expect((await ledger().findOne({ _id: first.key }))?.status).toBe('authorized');
    // So the caller voids it by its key.
    const voided = await voidPayment(impatient, first.key, first);
    expect(voided).toMatchObject({ status: 'voided', captured: 0 });
    expect((await ledger().findOne({ _id: first.key }))?.status).toBe('voided');
    // The same key again is answered from what was decided: voided, no new payment.
    expect((await authorizePayment(patient, first)).status).toBe('voided');

    // Another try of the same reference (a new key) is answered at once.
    const retry = await request({
      merchantReference: reference,
      number: TEST_CARDS.slowFirstAttempt,
    });
    const payment = await authorizePayment(patient, retry);
    expect(payment.status).toBe('authorized');
    expect((await capturePayment(patient, payment._id)).status).toBe('captured');
    expect(await ledger().countDocuments({ merchantReference: reference })).toBe(2);
    expect(
      await payments().countDocuments({ authorizationKey: { $in: [first.key, retry.key] } }),
    ).toBe(2);
  });

  test('a patient client gets the slow card authorized on its first try', async () => {
    const patient = opsWith({
      PAYMENT_PROVIDER_TIMEOUT_MS: 5_000,
      SIMULATED_PROVIDER_DELAY_MS: 300,
    });
    const payment = await authorizePayment(
      patient,
      await request({ number: TEST_CARDS.slowFirstAttempt }),
    );
    expect(payment).toMatchObject({ status: 'authorized', card: { brand: 'visa', last4: '0259' } });
  });
});

describe('void, capture and refund', () => {
  test('void: an authorization is cancelled once; a key never authorized is voided for good', async () => {
    const input = await request();
    const authorized = await authorizePayment(paymentModule, input);
    const voided = await voidPayment(paymentModule, input.key, input);
    expect(voided).toMatchObject({ _id: authorized._id, status: 'voided' });
    expect(await voidPayment(paymentModule, input.key, input)).toMatchObject({
      status: 'voided',
      version: voided.version,
    });
    expect((await ledger().findOne({ _id: input.key }))?.status).toBe('voided');
    expect((await problemOf(capturePayment(paymentModule, authorized._id))).status).toBe(409);

    // Voided before it was asked for (a checkout overtaken on its way to the provider): a
    // voided payment stands in its place, so the authorization asked later is refused
    // before the provider sees it.
    const late = await request();
    expect(await voidPayment(paymentModule, late.key, late)).toMatchObject({
      _id: paymentIdFor(late.key),
      status: 'voided',
      orderId: late.orderId,
      amount: late.amount,
    });
    expect(await authorizePayment(paymentModule, late)).toMatchObject({ status: 'voided' });
    expect(await ledger().findOne({ _id: late.key })).toBeNull();

    const declined = await request({ number: TEST_CARDS.declined });
    await authorizePayment(paymentModule, declined);
    expect(await voidPayment(paymentModule, declined.key, declined)).toMatchObject({
      status: 'declined',
    });
  });

  test('capture: once, for the amount authorized', async () => {
    const authorized = await authorizePayment(paymentModule, await request({ amount: 2_345 }));
    const first = await capturePayment(paymentModule, authorized._id);
    expect(first).toMatchObject({ status: 'captured', captured: 2_345 });
    const again = await capturePayment(paymentModule, authorized._id);
    expect(again).toMatchObject({ status: 'captured', captured: 2_345, version: first.version });
    expect(await ledger().findOne({ _id: authorized.authorizationKey })).toMatchObject({
      status: 'captured',
      captured: 2_345,
    });
    expect((await problemOf(capturePayment(paymentModule, newId('pay')))).status).toBe(404);
  });

  test('the same capture or refund asked at once from several places takes effect once', async () => {
    const authorized = await authorizePayment(paymentModule, await request({ amount: 900 }));
    const captures = await Promise.all(
      Array.from({ length: 4 }, () => capturePayment(paymentModule, authorized._id)),
    );
    expect(captures.map((p) => [p.status, p.captured])).toEqual(
      Array.from({ length: 4 }, () => ['captured', 900]),
    );
    const refunds = await Promise.all(
      Array.from({ length: 4 }, () =>
        refundPayment(paymentModule, authorized._id, { key: 'once', amount: 400, reason: 'dent' }),
      ),
    );
    expect(refunds.map((p) => [p.status, p.refunded])).toEqual(
      Array.from({ length: 4 }, () => ['partially_refunded', 400]),
    );
    expect(await payments().findOne({ _id: authorized._id })).toMatchObject({
      status: 'partially_refunded',
      captured: 900,
      refunded: 400,
      refunds: [expect.objectContaining({ key: 'once', amount: 400 })],
    });
    expect((await ledger().findOne({ _id: authorized.authorizationKey }))?.refunds).toEqual([
      { key: 'once', amount: 400 },
    ]);
  });

  test('a refund asked at once from several places after an earlier refund also takes effect once', async () => {
    // FerretDB 1.24 matches {'refunds.key': {$ne: k}} when any other refund's key differs.
    const authorized = await authorizePayment(paymentModule, await request({ amount: 900 }));
    await capturePayment(paymentModule, authorized._id);
    await refundPayment(paymentModule, authorized._id, {
      key: 'first',
      amount: 100,
      reason: 'dent',
    });
    await Promise.all(
      Array.from({ length: 4 }, () =>
        refundPayment(paymentModule, authorized._id, {
          key: 'second',
          amount: 200,
          reason: 'dent',
        }),
      ),
    );
    expect((await ledger().findOne({ _id: authorized.authorizationKey }))?.refunds).toEqual([
      { key: 'first', amount: 100 },
      { key: 'second', amount: 200 },
    ]);
    expect(await payments().findOne({ _id: authorized._id })).toMatchObject({ refunded: 300 });
  });

  test('refund: partly, then the rest; never more than captured; a known key changes nothing', async () => {
    const payment = await captured(1_000);
    const partial = await refundPayment(paymentModule, payment._id, {
      key: 'r1',
      amount: 300,
      reason: 'one broken',
    });
    expect(partial).toMatchObject({ status: 'partially_refunded', captured: 1_000, refunded: 300 });

    const repeated = await refundPayment(paymentModule, payment._id, {
      key: 'r1',
      amount: 500,
      reason: 'again',
    });
    expect(repeated).toMatchObject({
      status: 'partially_refunded',
      refunded: 300,
      version: partial.version,
    });

    expect(
      (
        await problemOf(
          refundPayment(paymentModule, payment._id, { key: 'r2', amount: 701, reason: 'too much' }),
        )
      ).status,
    ).toBe(422);
    expect(
      (
        await problemOf(
          refundPayment(paymentModule, payment._id, { key: 'r2', amount: 0, reason: 'nothing' }),
        )
      ).status,
    ).toBe(422);

    const rest = await refundPayment(paymentModule, payment._id, {
      key: 'r3',
      reason: 'all of it',
    });
    expect(rest).toMatchObject({ status: 'refunded', refunded: 1_000 });
    expect(rest.refunds.map((r) => [r.key, r.amount, r.reason])).toEqual([
      ['r1', 300, 'one broken'],
      ['r3', 700, 'all of it'],
    ]);
    expect(
      (
        await problemOf(
          refundPayment(paymentModule, payment._id, { key: 'r4', amount: 1, reason: 'more' }),
        )
      ).status,
    ).toBe(422);
    const entry = await ledger().findOne({ _id: payment.authorizationKey });
    expect(entry?.refunds).toEqual([
      { key: 'r1', amount: 300 },
      { key: 'r3', amount: 700 },
    ]);
    expect((await payments().findOne({ _id: payment._id }))?.refunded).toBe(1_000);
  });

  test('illegal moves are refused and change nothing', async () => {
    // Nothing captured: nothing to refund.
    const authorized = await authorizePayment(paymentModule, await request());
    expect(
      (await problemOf(refundPayment(paymentModule, authorized._id, { key: 'r', reason: 'early' })))
        .status,
    ).toBe(422);
    // Captured money is refunded, not voided.
    const taken = await captured();
    expect(
      (await problemOf(voidPayment(paymentModule, taken.authorizationKey, taken))).status,
    ).toBe(409);
    expect((await ledger().findOne({ _id: taken.authorizationKey }))?.status).toBe('captured');
    const refunded = await refundPayment(paymentModule, taken._id, {
      key: 'all',
      reason: 'returned',
    });
    expect((await problemOf(capturePayment(paymentModule, refunded._id))).status).toBe(409);
    expect(
      (await problemOf(voidPayment(paymentModule, refunded.authorizationKey, refunded))).status,
    ).toBe(409);
    expect(
      (await problemOf(refundPayment(paymentModule, newId('pay'), { key: 'x', reason: 'who' })))
        .status,
    ).toBe(404);
    expect(await payments().findOne({ _id: taken._id })).toMatchObject({
      status: 'refunded',
      captured: 1_000,
      refunded: 1_000,
      version: refunded.version,
    });
  });
});

describe('over HTTP', () => {
  interface PaymentPage {
    items: Payment[];
    nextCursor: string | null;
  }
  const admin = () => tenant.token({ sub: 'usr_admin', roles: ['admin'] });
  const buyerToken = (id: string) => tenant.token({ sub: id, roles: ['buyer'] });
  const answers: unknown[] = [];
  const get = async <T>(path: string, token?: string) => {
    const answer = await call<T>('GET', path, { token });
    answers.push(answer.body);
    return answer;
  };

  test('the test cards are public', async () => {
    const anonymous = await call('GET', '/payments/test-cards');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({
      provider: 'simulated',
      cards: Object.values(TEST_CARDS).map((number) => ({
        number,
        behaviour: expect.any(String) as unknown,
      })),
    });
    // A token is not looked at, not even a forged one.
    expect((await call('GET', '/payments/test-cards', { token: 'not-a-token' })).status).toBe(200);
  });

  test('a buyer lists and reads their own payments; admins all; 404 for the rest', async () => {
    const [me, other] = [newId('usr'), newId('usr')];
    const order = newId('ord');
    const mine = [
      await authorizePayment(
        paymentModule,
        await request({ buyerId: me, orderId: order, number: TEST_CARDS.declined }),
      ),
      await authorizePayment(paymentModule, await request({ buyerId: me, orderId: order })),
      await captured(1_000, { buyerId: me }),
      await authorizePayment(
        paymentModule,
        await request({ buyerId: me, number: TEST_CARDS.insufficientFunds }),
      ),
    ];
    const theirs = await authorizePayment(
      paymentModule,
      await request({ buyerId: other, orderId: order }),
    );
    const newestFirst = mine.map((p) => p._id).reverse();

    const listed = await get<PaymentPage>('/payments', buyerToken(me));
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((p) => p.id)).toEqual(newestFirst);
    expect(listed.body.nextCursor).toBeNull();
    expect(listed.body.items[3]).toMatchObject({
      id: mine[0]?._id,
      orderId: order,
      buyerId: me,
      status: 'declined',
      declineCode: 'card_declined',
      card: { brand: 'visa', last4: '0002' },
      captured: 0,
      refunded: 0,
    });

    const forOrder = await get<PaymentPage>(`/payments?orderId=${order}`, buyerToken(me));
    expect(forOrder.body.items.map((p) => p.id)).toEqual([mine[1]?._id, mine[0]?._id]);
    const forOrderAdmin = await get<PaymentPage>(`/payments?orderId=${order}`, admin());
    expect(forOrderAdmin.body.items.map((p) => p.id)).toEqual([
      theirs._id,
      mine[1]?._id,
      mine[0]?._id,
    ]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: PaymentPage } = await get<PaymentPage>(
        `/payments?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        buyerToken(me),
      );
      expect(page.body.items).toHaveLength(1);
      seen.push(...page.body.items.map((p) => p.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(newestFirst);

    const all = await get<PaymentPage>('/payments?limit=100', admin());
    expect(all.body.items.map((p) => p.id)).toEqual(
      expect.arrayContaining([...newestFirst, theirs._id]),
    );
    expect(
      (await get<PaymentPage>('/payments', buyerToken(other))).body.items.map((p) => p.id),
    ).toEqual([theirs._id]);

    const own = await get<Payment>(`/payments/${mine[2]?._id ?? ''}`, buyerToken(me));
    expect(own).toMatchObject({
      status: 200,
      body: { id: mine[2]?._id, status: 'captured', captured: 1_000 },
    });
    expect((await get(`/payments/${theirs._id}`, buyerToken(me))).status).toBe(404);
    expect((await get(`/payments/${theirs._id}`, admin())).status).toBe(200);
    expect((await get(`/payments/${newId('pay')}`, admin())).status).toBe(404);
    // A seller is no buyer of these.
    const seller = tenant.token({
      sub: newId('usr'),
      roles: ['seller'],
      company: 'co_0123456789abcdef01234567',
    });
    expect((await get(`/payments/${theirs._id}`, seller)).status).toBe(404);
    expect((await get<PaymentPage>('/payments', seller)).body.items).toEqual([]);
    expectNoCardNumbers();
  });

  /** Every payment answered so far shows brand and last four, never the number. */
  function expectNoCardNumbers(): void {
    const text = JSON.stringify(answers);
    for (const number of Object.values(TEST_CARDS)) expect(text).not.toContain(number);
    const payments = answers.flatMap((body) => {
      const page = body as Partial<PaymentPage> & Partial<Payment>;
      return page.items ?? (page.card ? [page as Payment] : []);
    });
    expect(payments.length).toBeGreaterThan(10);
    for (const payment of payments) {
      expect(Object.keys(payment.card).sort()).toEqual(['brand', 'last4']);
      // A payment voided before its authorization was asked for never saw a card.
      expect(payment.card.last4).toMatch(payment.card.brand === 'none' ? /^$/ : /^\d{4}$/);
    }
  }

  test('bad ids, limits and keys are 400; a foreign cursor 422; no token and forged tokens 401', async () => {
    const me = newId('usr');
    const payment = await authorizePayment(paymentModule, await request({ buyerId: me }));
    expect((await get('/payments/pay_123', admin())).status).toBe(400);
    expect((await get(`/payments/${newId('ord')}`, admin())).status).toBe(400);
    expect((await get('/payments?limit=0', admin())).status).toBe(400);
    expect((await get('/payments?cursor=bm9wZQ', admin())).status).toBe(422);
    expect((await get('/payments?buyerId=x', admin())).status).toBe(400);
    expect((await get('/payments?orderId[$ne]=x', buyerToken(me))).status).toBe(400);
    expect((await get('/payments')).status).toBe(401);
    expect((await get(`/payments/${payment._id}`)).status).toBe(401);
    for (const forged of forgedTokens(tenant, { sub: me, roles: ['buyer'] })) {
      const statuses = [
        (await get('/payments', forged.token)).status,
        (await get(`/payments/${payment._id}`, forged.token)).status,
      ];
      expect({ why: forged.why, statuses }).toEqual({ why: forged.why, statuses: [401, 401] });
    }
  });
});

test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
  await expectOpenApiUpToDate(paymentsService, join(import.meta.dirname, '..'), call);
});
