// The orders service reads the common environment plus the payment provider's settings
// (it refunds through the provider) and the secret of its request fingerprints.
import { idempotencyEnv, serviceEnv } from '@gorten/kit';
import { paymentProviderEnv } from '@gorten/payments/config';
import type { z } from 'zod';

export const ordersEnv = serviceEnv.extend({ ...paymentProviderEnv, ...idempotencyEnv });
export type OrdersEnv = z.infer<typeof ordersEnv>;
