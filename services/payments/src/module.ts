// Building the payments module for a service that calls the provider: the provider
// the settings name (the simulated one's own work outside our traces), each call traced,
// behind one resilience policy (its state in the service's metrics), and the count of the
// money it moves.
import { dependencyPolicy, type DependencyMetrics } from '@gorten/kit';
import type { Db } from 'mongodb';
import { Registry } from 'prom-client';
import { providerDeadlineMs, type PaymentProviderSettings } from './config.js';
import { PaymentMetrics } from './metrics.js';
import type { PaymentModule } from './payments.js';
import { asExternal, tracedProvider } from './provider-tracing.js';
import { SimulatedProvider } from './simulated-provider.js';
import { paymentsStore } from './store.js';

export function createPaymentModule(
  db: Db,
  settings: PaymentProviderSettings,
  metrics: DependencyMetrics,
  /** The service's registry, for the money moved (tests may leave it to one nobody reads). */
  registry: Registry = new Registry(),
): PaymentModule {
  const store = paymentsStore(db);
  return {
    store,
    provider: tracedProvider(
      asExternal(
        new SimulatedProvider(store.vault, store.ledger, settings.SIMULATED_PROVIDER_DELAY_MS),
      ),
    ),
    // Provider calls are idempotent (by key), so retrying them is safe.
    policy: dependencyPolicy('payment-provider', metrics, {
      idempotent: true,
      timeoutMs: settings.PAYMENT_PROVIDER_TIMEOUT_MS,
      deadlineMs: providerDeadlineMs(settings),
      maxAttempts: 2,
    }),
    metrics: new PaymentMetrics(registry),
    now: () => new Date(),
  };
}
