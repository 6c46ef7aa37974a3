// What admins and sellers do with orders after checkout: fulfil, deliver, cancel, refund.
// A seller moves an order only when every item in it is their company's (an order
// spanning companies is the marketplace's to move). A refund returns the whole captured
// payment through the payment provider and then marks the order refunded; both steps are
// idempotent, so a retry with the same key finishes what a failure interrupted.
import {
  forbidden,
  isAdmin,
  requestHash,
  unprocessable,
  type IdempotencyKeys,
  type Principal,
} from '@gorten/kit';
import { refundPayment, type PaymentModule } from '@gorten/payments/payments';
import type { OrdersEnv } from './config.js';
import { transitionOrder, type OrderModule } from './orders.js';
import { toOrder, visibleOrder } from './queries.js';
import type { Order } from './schemas.js';

export interface FulfilmentDeps extends OrderModule {
  env: Pick<OrdersEnv, 'IDEMPOTENCY_HMAC_KEY'>;
  payments: PaymentModule;
  requests: IdempotencyKeys<{ status: number; body: Order }>;
}

export async function changeStatus(
  deps: FulfilmentDeps,
  principal: Principal,
  orderId: string,
  change: { to: 'fulfilled' | 'delivered' | 'cancelled'; reason?: string },
): Promise<Order> {
  const order = await visibleOrder(deps.store, principal, orderId);
  if (!isAdmin(principal)) {
    const ownsAll = order.companyIds.length === 1 && order.companyIds[0] === principal.companyId;
    if (!ownsAll || change.to === 'cancelled')
      throw forbidden('Sellers fulfil and deliver orders that hold only their company’s items.');
  }
  return toOrder(
    await transitionOrder(deps, orderId, change.to, { reason: change.reason }),
    principal,
  );
}

export function refundOrder(
  deps: FulfilmentDeps,
  principal: Principal,
  orderId: string,
  reason: string,
  key: string,
): Promise<{ status: number; body: Order }> {
  return deps.requests.once(
    `${principal.userId}:${key}`,
    requestHash(deps.env.IDEMPOTENCY_HMAC_KEY, { op: 'refund', orderId, reason }),
    deps.now,
    async () => {
      const order = await visibleOrder(deps.store, principal, orderId);
      if (order.status === 'refunded') return { status: 200, body: toOrder(order, principal) };
      if (!order.paymentId) throw unprocessable('The order has no payment to refund.');
      if (!['paid', 'fulfilled', 'delivered'].includes(order.status))
        throw unprocessable(`A ${order.status} order has nothing captured to refund.`);
      await refundPayment(deps.payments, order.paymentId, { key: `refund:${orderId}`, reason });
      const refunded = await transitionOrder(deps, orderId, 'refunded', { reason });
      return { status: 200, body: toOrder(refunded, principal) };
    },
  );
}
