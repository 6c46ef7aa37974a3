// The checkout service as the kit starts it: the route, and the recovery worker, the
// reservation sweeper and the retention sweep on timers. It composes the catalog, carts,
// orders and payments packages in-process against the tenant's database (see
// docs/services.md, "checkout").
import { RETENTION_SWEEP_MS, type ServiceDefinition } from '@gorten/kit';
import { createCartModule } from '@gorten/carts/carts';
import { createStockModule } from '@gorten/catalog/stock';
import { createOrderModule } from '@gorten/orders/orders';
import { createPaymentModule } from '@gorten/payments/module';
import type { CheckoutDeps } from './deps.js';
import { checkoutEnv, type CheckoutEnv } from './config.js';
import { CheckoutMetrics } from './metrics.js';
import {
  forgetFinished,
  recoverCheckouts,
  settleUnrecorded,
  sweepReservations,
} from './recovery.js';
import { checkoutRequests } from './requests.js';
import { CHECKOUT_ROUTES } from './routes.js';
import { CHECKOUT_INDEXES, checkoutStore } from './store.js';

export const checkoutService: ServiceDefinition<CheckoutEnv, CheckoutDeps> = {
  info: {
    title: 'Gorten checkout',
    version: '0.1.0',
    description: 'Checkout of one marketplace: from the buyer’s cart to a paid order.',
  },
  env: checkoutEnv,
  indexes: CHECKOUT_INDEXES,
  routes: CHECKOUT_ROUTES,
  // Checkout's own relay covers the orders and products the saga writes, so the `outbox`
  // the kit hands its order and stock modules publishes their events at once. All of
  // them announce, so the full scan of these growing collections (FerretDB has no
  // secondary index) runs rarely: the safety net for a crash before an announcement.
  outboxCollections: ['orders', 'products'],
  outboxSweepMs: 30_000,
  deps: ({ env, db, log, metrics, dependencyMetrics, outbox, cache }) => {
    const store = checkoutStore(db);
    const failpoint = env.CHECKOUT_FAILPOINT;
    const deps: CheckoutDeps = {
      env,
      store,
      // A stale claim whose run is not on record is undone with these very deps.
      requests: checkoutRequests(store, env, (claim, now) => settleUnrecorded(deps, claim, now)),
      metrics: new CheckoutMetrics(metrics.registry),
      carts: createCartModule(db),
      // The catalog's cache: each stock change bumps the product's cached reads.
      stock: createStockModule(db, outbox, cache),
      orders: createOrderModule(db, outbox),
      payments: createPaymentModule(db, env, dependencyMetrics, metrics.registry),
      log,
      now: () => new Date(),
      ...(failpoint
        ? {
            afterStep: (step) => {
              if (step !== failpoint) return;
              log.error({ step }, 'CHECKOUT_FAILPOINT reached: killing the process');
              process.kill(process.pid, 'SIGKILL');
            },
          }
        : {}),
    };
    return deps;
  },
  periodic: (deps) => [
    {
      name: 'checkout-recovery',
      everyMs: deps.env.RECOVERY_INTERVAL_MS,
      // The sweep right after the recovery that recorded every stale claim's run: a
      // reservation it finds without a run on record has no live request behind it.
      run: async () => {
        await recoverCheckouts(deps);
        await sweepReservations(deps);
      },
    },
    { name: 'checkout-retention', everyMs: RETENTION_SWEEP_MS, run: () => forgetFinished(deps) },
  ],
};
