// Requests and answers of the checkout service: the source of its OpenAPI document.
import { idempotencyKeyHeader } from '@gorten/kit';
import { orderItem } from '@gorten/orders/schemas';
import { paymentMethodId } from '@gorten/payments/schemas';
import { z } from 'zod';

/** What checkout is asked: never card details (those go to POST /payments/methods). */
export const checkoutRequest = z.strictObject({
  paymentMethod: paymentMethodId.describe('The buyer’s own, from POST /payments/methods.'),
  expectedTotal: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'The total the buyer was shown (minor units): if the cart costs anything else now, a 409 `total_changed` and nothing is charged.',
    ),
});
export type CheckoutRequest = z.infer<typeof checkoutRequest>;

export const checkoutHeaders = z.object({ 'idempotency-key': idempotencyKeyHeader });

export const checkoutResult = z.object({
  orderId: z.string(),
  status: z.literal('paid'),
  paymentId: z.string(),
  currency: z.string(),
  total: z.number().int(),
  items: z.array(orderItem),
});
