// Requests and answers of the orders service: the source of its OpenAPI document.
import { idempotencyKeyHeader, idPattern, pageOf, pageQuery, trimmedText } from '@gorten/kit';
import { z } from 'zod';
import { ORDER_STATUSES } from './store.js';

export const orderId = z.string().regex(idPattern('ord'), 'must be an order id');

/** An order line as bought (price snapshot): in answers, events and checkout results. */
export const orderItem = z.object({
  productId: z.string(),
  companyId: z.string(),
  sku: z.string(),
  name: z.string(),
  unitPrice: z.number().int(),
  quantity: z.number().int(),
  lineTotal: z.number().int(),
});

export const order = z.object({
  id: z.string(),
  buyerId: z.string(),
  status: z.enum(ORDER_STATUSES),
  items: z.array(orderItem).describe('For a seller: only their company’s items.'),
  currency: z.string(),
  total: z.number().int().describe('For a seller: the total of their items.'),
  paymentId: z.string().optional(),
  history: z.array(
    z.object({
      from: z.enum(ORDER_STATUSES).nullable(),
      to: z.enum(ORDER_STATUSES),
      at: z.iso.datetime(),
      reason: z.string().optional(),
    }),
  ),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Order = z.infer<typeof order>;

export const orderPage = pageOf(order);

export const orderQuery = z.strictObject({
  ...pageQuery,
  status: z.enum(ORDER_STATUSES).optional(),
});

export const orderParams = z.strictObject({ id: orderId });

export const statusChange = z.strictObject({
  to: z.enum(['fulfilled', 'delivered', 'cancelled']),
  reason: trimmedText(500).optional(),
});

export const refundRequest = z.strictObject({ reason: trimmedText(500) });

export const idempotencyHeaders = z.object({ 'idempotency-key': idempotencyKeyHeader });
