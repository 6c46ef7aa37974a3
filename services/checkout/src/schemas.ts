// Requests and answers of the checkout service: the source of its OpenAPI document.
import { idempotencyKeyHeader } from '@gorten/kit';
import { orderItem } from '@gorten/orders/schemas';
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
  items: z.array(orderItem),
});
