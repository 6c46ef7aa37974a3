// The money that moves through payments, for operators:
// gorten_payment_amount_minor_units_total{currency,operation}, in the currency's minor
// units (cents), by what happened to it — authorized, captured, refunded, or voided (an
// authorization given back). Counted by the call whose write made the move, once: a
// repeated call that finds the work done counts nothing.
import { Counter, type Registry } from 'prom-client';
import type { PaymentDoc } from './store.js';

export const PAYMENT_OPERATIONS = ['authorized', 'captured', 'refunded', 'voided'] as const;
export type PaymentOperation = (typeof PAYMENT_OPERATIONS)[number];

/** What the move of a payment from `before` to `after` did with money, if anything (pure). */
export function moneyMoved(
  before: PaymentDoc,
  after: PaymentDoc,
): { operation: PaymentOperation; amount: number } | undefined {
  if (before.status === 'authorizing' && after.status === 'authorized')
    return { operation: 'authorized', amount: after.amount };
  if (after.captured > before.captured)
    return { operation: 'captured', amount: after.captured - before.captured };
  if (after.refunded > before.refunded)
    return { operation: 'refunded', amount: after.refunded - before.refunded };
  // Only a counted authorization is given back: a void of one whose outcome was never
  // learned (or never asked for) moved no money we know of.
  if (before.status === 'authorized' && after.status === 'voided')
    return { operation: 'voided', amount: before.amount };
  return undefined;
}

export class PaymentMetrics {
  private readonly amounts: Counter<'currency' | 'operation'>;

  constructor(registry: Registry) {
    this.amounts = new Counter({
      name: 'gorten_payment_amount_minor_units_total',
      help: 'Money authorized, captured, refunded and voided, in minor units of each currency',
      labelNames: ['currency', 'operation'],
      registers: [registry],
    });
  }

  /** Counts what the move from `before` to `after` did with money. */
  moved(before: PaymentDoc, after: PaymentDoc): void {
    const money = moneyMoved(before, after);
    if (money && money.amount > 0)
      this.amounts.inc({ currency: after.currency, operation: money.operation }, money.amount);
  }
}
