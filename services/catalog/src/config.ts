// The catalog reads the common service environment plus the tenant's currency (every
// price in a marketplace is in it) and the default low-stock threshold.
import { serviceEnv } from '@gorten/kit';
import { z } from 'zod';

export const catalogEnv = serviceEnv.extend({
  CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  LOW_STOCK_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).default(5),
});

export type CatalogEnv = z.infer<typeof catalogEnv>;
