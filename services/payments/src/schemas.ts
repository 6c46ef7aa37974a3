// Requests and answers of the payments service, and the card a checkout carries.
import { idPattern, pageOf, pageQuery } from '@gorten/kit';
import { z } from 'zod';
import { luhnValid } from './provider.js';
import { PAYMENT_STATUSES } from './store.js';

export const card = z.strictObject({
  number: z
    .string()
    .transform((s) => s.replace(/[\s-]/g, ''))
    .pipe(
      z
        .string()
        .regex(/^\d{12,19}$/, '12 to 19 digits')
        .refine(luhnValid, 'not a valid card number'),
    ),
  expMonth: z.number().int().min(1).max(12),
  expYear: z.number().int().min(2000).max(2100),
  cvc: z.string().regex(/^\d{3,4}$/),
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
