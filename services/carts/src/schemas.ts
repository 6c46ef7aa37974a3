// Requests and answers of the carts service: the source of its OpenAPI document.
import { idPattern } from '@gorten/kit';
import { z } from 'zod';

export const cartItem = z.object({
  productId: z.string(),
  quantity: z.number().int(),
  available: z.boolean().describe('false: unavailable now, or not enough in stock.'),
  problem: z.enum(['unavailable', 'insufficient_stock']).optional(),
  inStock: z.number().int().optional(),
  companyId: z.string().optional(),
  sku: z.string().optional(),
  name: z.string().optional(),
  unitPrice: z.number().int().optional(),
  lineTotal: z.number().int().optional(),
});
export type CartItemView = z.infer<typeof cartItem>;

export const cart = z.object({
  buyerId: z.string(),
  items: z.array(cartItem),
  currency: z.string(),
  total: z
    .number()
    .int()
    .describe('Of the available items, at today’s prices; checkout prices again.'),
  checkoutInProgress: z.boolean(),
});
export type Cart = z.infer<typeof cart>;

export const itemParams = z.strictObject({
  productId: z.string().regex(idPattern('prd'), 'must be a product id'),
});

export const quantity = z.strictObject({ quantity: z.number().int().min(1).max(99) });
