// Payment provider settings: read by every service that calls the provider (payments,
// checkout, orders), so they are one schema that those services extend their env with.
import { serviceEnv } from '@gorten/kit';
import { z } from 'zod';

export const paymentProviderEnv = {
  PAYMENT_PROVIDER: z.enum(['simulated']).default('simulated'),
  /** One provider call may take this long before its outcome counts as unknown. */
  PAYMENT_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
  /** How late the simulated provider's slow test card answers. */
  SIMULATED_PROVIDER_DELAY_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
};

export const paymentsEnv = serviceEnv.extend(paymentProviderEnv);

/**
 * The longest one provider operation takes in all, however busy the process: the wait
 * for a bulkhead slot, two attempts and the pause between. The policy gives up then (the
 * outcome is unknown), so a caller that holds a lease (checkout) can outlast it.
 */
export function providerDeadlineMs(settings: { PAYMENT_PROVIDER_TIMEOUT_MS: number }): number {
  return 2.5 * settings.PAYMENT_PROVIDER_TIMEOUT_MS;
}

export type PaymentProviderSettings = {
  [K in keyof typeof paymentProviderEnv]: z.infer<(typeof paymentProviderEnv)[K]>;
};
export type PaymentsEnv = z.infer<typeof paymentsEnv>;
