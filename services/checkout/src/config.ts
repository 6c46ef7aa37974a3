// The checkout service reads the common environment, the payment provider's settings,
// the secret of its request fingerprints, and the saga's timings.
import { idempotencyEnv, serviceEnv } from '@gorten/kit';
import { paymentProviderEnv, providerDeadlineMs } from '@gorten/payments/config';
import { z } from 'zod';
import { CHECKOUT_STEPS } from './store.js';

export const checkoutEnv = serviceEnv
  .extend({
    ...paymentProviderEnv,
    ...idempotencyEnv,
    CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
    /** A running checkout holds its lease this long per record; past it, recovery takes over. */
    CHECKOUT_LEASE_MS: z.coerce.number().int().min(500).max(600_000).default(30_000),
    /** Reserved stock comes back after this long if no checkout ended the reservation. */
    RESERVATION_TTL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(900_000),
    /**
     * How long a finished checkout is kept (its order and payment are kept for good).
     * Longer than a reservation lives: the sweeper settles an expired one by its run.
     */
    CHECKOUT_RETENTION_MS: z.coerce
      .number()
      .int()
      .min(3_600_000)
      .default(30 * 86_400_000),
    /** How often the recovery worker and the reservation sweeper run. */
    RECOVERY_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    /**
     * Failure drills: the process kills itself right after this step is done (recorded,
     * or carried to the next record), as a crash would. Never set in production.
     */
    CHECKOUT_FAILPOINT: z.enum(CHECKOUT_STEPS).optional(),
  })
  // The authorizing step waits for the provider up to its deadline — the queue for a slot,
  // two attempts and the pause between (providerDeadlineMs, 2.5 timeouts) —, and writes a
  // little around it: the lease must outlast that, or recovery would take over runs that
  // are merely slow.
  .refine(
    (env) => env.CHECKOUT_LEASE_MS >= providerDeadlineMs(env) + env.PAYMENT_PROVIDER_TIMEOUT_MS / 2,
    { message: 'must be at least 3 × PAYMENT_PROVIDER_TIMEOUT_MS', path: ['CHECKOUT_LEASE_MS'] },
  )
  // A run's claim goes stale (and recovery records the run) before its stock is swept:
  // a lease for the claim to go stale, a recovery round to see it, and a lease's margin
  // for the pods' clocks and the round's own length.
  .refine((env) => env.RESERVATION_TTL_MS >= 2 * env.CHECKOUT_LEASE_MS + env.RECOVERY_INTERVAL_MS, {
    message: 'must be at least 2 × CHECKOUT_LEASE_MS + RECOVERY_INTERVAL_MS',
    path: ['RESERVATION_TTL_MS'],
  })
  .refine((env) => env.CHECKOUT_RETENTION_MS > env.RESERVATION_TTL_MS, {
    message: 'must be longer than RESERVATION_TTL_MS',
    path: ['CHECKOUT_RETENTION_MS'],
  });

export type CheckoutEnv = z.infer<typeof checkoutEnv>;
