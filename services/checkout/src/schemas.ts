// Requests and answers of the checkout service: the source of its OpenAPI document.
import { idempotencyKeyHeader } from '@gorten/kit';
import { card } from '@gorten/payments/schemas';
import { z } from 'zod';

export const checkoutRequest = z.strictObject({
  card: card.describe('Test cards of the simulated provider: GET /payments/test-cards.'),
});

export const checkoutHeaders = z.object({ 'idempotency-key': idempotencyKeyHeader });

export const checkoutResult = z.object({
  orderId: z.string(),
  status: z.literal('paid'),
  paymentId: z.string(),
  currency: z.string(),
  total: z.number().int(),
  items: z.array(
    z.object({
      productId: z.string(),
      companyId: z.string(),
      sku: z.string(),
      name: z.string(),
      unitPrice: z.number().int(),
      quantity: z.number().int(),
      lineTotal: z.number().int(),
    }),
  ),
});
