// Requests and answers of the payments service: the card a buyer tokenizes (the one
// request that carries card details), payment methods, payments.
import { idPattern, pageOf, pageQuery } from '@gorten/kit';
import { z } from 'zod';
import { PAYMENT_STATUSES } from './store.js';

/**
 * Card details, in exactly these formats (the provider's form sends them so): a field
 * that breaks its format is a 400, the one error about it (`abort`). Whether a well-formed
 * card is one (Luhn, expiry) is the provider's 422: no schema can say it.
 */
export const cardDetails = z
  .strictObject({
    number: z
      .string()
      .regex(/^\d{12,19}$/, { message: '12 to 19 digits, no spaces or dashes', abort: true })
      .describe('12–19 digits, nothing else; one failing the Luhn check is a 422.'),
    expMonth: z.number().int({ abort: true }).min(1, { abort: true }).max(12, { abort: true }),
    expYear: z
      .number()
      .int({ abort: true })
      .min(1000, { message: 'four digits', abort: true })
      .max(9999, { message: 'four digits', abort: true })
      .describe('Four digits; a card whose expMonth and expYear have passed (UTC) is a 422.'),
    cvc: z.string().regex(/^\d{3,4}$/, '3 or 4 digits'),
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

export const paymentMethodList = z.object({ items: z.array(paymentMethod) });

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
