// What each notification event becomes as an email (pure): who gets it, the subject and
// the text. Recipients are looked up by the caller (users and companies are ids here).
import type { EventEnvelope } from '@gorten/kit';

export interface Email {
  to: string;
  subject: string;
  text: string;
}

/** Who an event is for: a user (by id or address) or a company's contact. */
export type Recipient =
  | { kind: 'user'; userId: string }
  | { kind: 'address'; email: string; name?: string }
  | { kind: 'company'; companyId: string };

interface OrderData {
  orderId: string;
  buyerId: string;
  total: number;
  currency: string;
  items: { name: string; quantity: number; lineTotal: number }[];
}

export function money(minor: number, currency: string): string {
  return `${(minor / 100).toFixed(2)} ${currency}`;
}

function orderLines(order: OrderData): string {
  return order.items
    .map((i) => `  ${i.quantity} x ${i.name}: ${money(i.lineTotal, order.currency)}`)
    .join('\n');
}

/** Kinds of event this worker mails; anything else on the queue is not for it. */
export const MAILED = [
  'user.registered',
  'order.confirmation',
  'payment.receipt',
  'shipment.ready',
  'inventory.low_stock',
] as const;

/** Who the event is for; undefined when the event does not say (it breaks its contract). */
export function recipientOf(event: EventEnvelope): Recipient | undefined {
  const data = (event.data ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof data[key] === 'string' ? data[key] : undefined);
  switch (event.type) {
    case 'user.registered': {
      const email = text('email');
      return email ? { kind: 'address', email, name: text('name') } : undefined;
    }
    case 'order.confirmation':
    case 'payment.receipt': {
      const userId = text('buyerId');
      return userId ? { kind: 'user', userId } : undefined;
    }
    case 'shipment.ready':
    case 'inventory.low_stock': {
      const companyId = text('companyId');
      return companyId ? { kind: 'company', companyId } : undefined;
    }
    default:
      return undefined;
  }
}

export function compose(event: EventEnvelope, to: string, marketplace: string): Email {
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'user.registered':
      return {
        to,
        subject: `Welcome to ${marketplace}`,
        text: `Hello ${String(data.name)},\n\nyour account at ${marketplace} is ready.\n`,
      };
    case 'order.confirmation': {
      const order = data as unknown as OrderData;
      return {
        to,
        subject: `Your order ${order.orderId}`,
        text: `Thank you for your order ${order.orderId}:\n\n${orderLines(order)}\n\nTotal: ${money(order.total, order.currency)}\n`,
      };
    }
    case 'payment.receipt': {
      const order = data as unknown as OrderData;
      return {
        to,
        subject: `Receipt for order ${order.orderId}`,
        text: `We received ${money(order.total, order.currency)} for order ${order.orderId}.\n\n${orderLines(order)}\n`,
      };
    }
    case 'shipment.ready': {
      const items = (data.items as { sku: string; quantity: number }[] | undefined) ?? [];
      return {
        to,
        subject: `Ship order ${String(data.orderId)}`,
        text: `Order ${String(data.orderId)} is paid. Please ship:\n\n${items.map((i) => `  ${i.quantity} x ${i.sku}`).join('\n')}\n`,
      };
    }
    case 'inventory.low_stock':
      return {
        to,
        subject: `Low stock: ${String(data.sku)}`,
        text: `${String(data.name)} (${String(data.sku)}) is down to ${String(data.stock)} (threshold ${String(data.threshold)}).\n`,
      };
    default:
      throw new Error(`no email for ${event.type}`);
  }
}
