// The order state machine (pure). An order is made pending, waits for its payment, is
// paid, fulfilled and delivered; it can be cancelled before it is paid and refunded
// after. Anything else is a 409 that says what is allowed.
import { conflict } from '@gorten/kit';
import type { OrderStatus } from './store.js';

const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['awaiting_payment', 'cancelled'],
  awaiting_payment: ['paid', 'cancelled'],
  paid: ['fulfilled', 'refunded'],
  fulfilled: ['delivered', 'refunded'],
  delivered: ['refunded'],
  cancelled: [],
  refunded: [],
};

export function allowedNext(from: OrderStatus): readonly OrderStatus[] {
  return NEXT[from];
}

/** `paid` and every status that can only follow it. */
const PAID_OR_AFTER: ReadonlySet<OrderStatus> = (() => {
  const seen = new Set<OrderStatus>(['paid']);
  for (const status of seen) for (const next of NEXT[status]) seen.add(next);
  return seen;
})();

/** Whether an order in `status` was paid (it may have moved on since: fulfilled, refunded). */
export function hasBeenPaid(status: OrderStatus): boolean {
  return PAID_OR_AFTER.has(status);
}

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (NEXT[from].includes(to)) return;
  const allowed = NEXT[from];
  throw conflict(
    `An order that is ${from} cannot become ${to}` +
      (allowed.length > 0 ? `; it can become ${allowed.join(' or ')}.` : '; it is final.'),
    { from, to, allowed },
  );
}
