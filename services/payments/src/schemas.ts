// Requests and answers of the payments service: the card a buyer tokenizes (the one
// request that carries card details), payment methods, payments.
import { idPattern, pageOf, pageQuery } from '@gorten/kit';
import { z } from 'zod';
import { cardExpired, luhnValid } from './provider.js';
import { PAYMENT_STATUSES } from './store.js';

/**
 * Card details, in exactly these formats (the provider's form sends them so). A field
 * that breaks its format is the one error about it (`abort`): the Luhn check and the
 * expiry are looked at only once the formats hold.
 */
export const cardDetails = z
  .strictObject({
    number: z
      .string()
      .regex(/^\d{12,19}$/, { message: '12 to 19 digits, no spaces or dashes', abort: true })
      .refine(luhnValid, 'not a valid card number (Luhn check)')
      .describe('12–19 digits, nothing else, passing the Luhn check.'),
    expMonth: z.number().int({ abort: true }).min(1, { abort: true }).max(12, { abort: true }),
    expYear: z
      .number()
      .int({ abort: true })
      .min(1000, { message: 'four digits', abort: true })
      .max(9999, { message: 'four digits', abort: true })
      .describe('Four digits; with expMonth not before the current month (UTC).'),
    cvc: z.string().regex(/^\d{3,4}$/, '3 or 4 digits'),
  })
  .refine((card) => !cardExpired(card.expMonth, card.expYear, new Date()), {
    message: 'the card has expired',
    path: ['expYear'],
  })
  .describe('Test cards of the simulated provider: GET /payments/test-cards.');

export const paymentMethodId = z
  .string()
  .regex(idPattern('pm'), 'must be a payment method id (pm_…)');

export const paymentMethod = z.object({
  id: z.string(),
  brand: z.string(),
  last4: z.string(),
  expMonth: z.number().int(),
  expYear: z.number().int(),
});

export const paymentId = z.string().regex(idPattern('pay'), 'must be a payment id');

export const payment = z.object({
  id: z.string(),
  orderId: z.string(),
  buyerId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  provider: z.string(),
  card: z.object({ brand: z.string(), last4: z.string() }),
  declineCode: z.string().optional(),
  captured: z.number().int(),
  refunded: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Payment = z.infer<typeof payment>;

export const paymentPage = pageOf(payment);

export const paymentQuery = z.strictObject({
  ...pageQuery,
  orderId: z.string().max(64).optional(),
});

export const paymentParams = z.strictObject({ id: paymentId });

export const testCards = z.object({
  provider: z.string(),
  cards: z.array(z.object({ number: z.string(), behaviour: z.string() })),
});
