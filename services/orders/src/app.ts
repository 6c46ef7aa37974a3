// The orders service as the kit starts it: routes, the outboxes of order events and
// notices, the order_created / order_paid consumers, and orders by status on /metrics.
import { IdempotencyKeys, RETENTION_SWEEP_MS, type ServiceDefinition } from '@gorten/kit';
import { createPaymentModule } from '@gorten/payments/module';
import { onOrderCreated, onOrderPaid } from './consumers.js';
import { createOrderModule } from './orders.js';
import { ordersEnv, type OrdersEnv } from './config.js';
import { ordersGauge } from './metrics.js';
import type { OrdersDeps } from './deps.js';
import { ORDERS_ROUTES } from './routes.js';
import { ORDERS_INDEXES } from './store.js';

export const ordersService: ServiceDefinition<OrdersEnv, OrdersDeps> = {
  info: {
    title: 'Gorten orders',
    version: '0.1.0',
    description: 'Orders of one marketplace: reading them, moving them along, refunds.',
  },
  env: ordersEnv,
  indexes: ORDERS_INDEXES,
  routes: ORDERS_ROUTES,
  outboxCollections: ['orders', 'shipments'],
  deps: ({ env, db, log, metrics, dependencyMetrics, outbox }) => {
    const orders = createOrderModule(db, outbox);
    // Orders by status are this service's to report (checkout writes orders too).
    ordersGauge(metrics.registry, orders.store.orders, log);
    return {
      env,
      ...orders,
      payments: createPaymentModule(db, env, dependencyMetrics, metrics.registry),
      // A refund's request is one provider operation and two writes, far shorter than this;
      // a claim taken over from a request still alive is harmless (refunds are by key).
      requests: new IdempotencyKeys(db.collection('order_requests'), {
        staleAfterMs: 10 * env.PAYMENT_PROVIDER_TIMEOUT_MS,
      }),
    };
  },
  // Answered refund keys are forgotten once past their retention (no TTL indexes).
  periodic: (deps) => [
    {
      name: 'order-requests-retention',
      everyMs: RETENTION_SWEEP_MS,
      run: async () => {
        await deps.requests.prune(new Date(Date.now() - deps.env.IDEMPOTENCY_RETENTION_MS));
      },
    },
  ],
  consumers: (deps) => [
    { name: 'orders-created', queue: 'order_created', handle: (e) => onOrderCreated(deps, e) },
    { name: 'orders-paid', queue: 'order_paid', handle: (e) => onOrderPaid(deps, e) },
  ],
};
