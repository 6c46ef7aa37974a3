// The payments service as the kit starts it.
import type { ServiceDefinition } from '@gorten/kit';
import { paymentsEnv, type PaymentsEnv } from './config.js';
import type { PaymentsDeps } from './deps.js';
import { createPaymentModule } from './module.js';
import { PAYMENTS_ROUTES } from './routes.js';
import { PAYMENTS_INDEXES } from './store.js';

export const paymentsService: ServiceDefinition<PaymentsEnv, PaymentsDeps> = {
  info: {
    title: 'Gorten payments',
    version: '0.1.0',
    description:
      'Payments of one marketplace: tokenize a card into a payment method, read payments, and the simulated provider’s test cards.',
  },
  env: paymentsEnv,
  indexes: PAYMENTS_INDEXES,
  routes: PAYMENTS_ROUTES,
  deps: ({ env, db, metrics, dependencyMetrics }) => ({
    env,
    ...createPaymentModule(db, env, dependencyMetrics, metrics.registry),
  }),
};
