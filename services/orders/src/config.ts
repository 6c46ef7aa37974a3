// The orders service reads the common environment plus the payment provider's settings
// (it refunds through the provider).
import { serviceEnv } from '@gorten/kit';
import { paymentProviderEnv } from '@gorten/payments/config';
import type { z } from 'zod';

export const ordersEnv = serviceEnv.extend(paymentProviderEnv);
export type OrdersEnv = z.infer<typeof ordersEnv>;
