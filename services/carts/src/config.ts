// The carts service's settings: the kit's, plus the marketplace's currency.
import { serviceEnv } from '@gorten/kit';
import { z } from 'zod';

export const cartsEnv = serviceEnv.extend({
  CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
});
export type CartsEnv = z.infer<typeof cartsEnv>;
