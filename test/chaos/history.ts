// The chaos suite's history checker (pure): given what the tenant's collections, the
// provider's ledger, the mail relay and the dead-letter queues hold once a run has
// settled, the invariants money and stock must keep, whatever crashed in between. Each
// broken invariant is one violation naming the objects involved.

export interface ProductState {
  _id: string;
  stock: number;
  reservations?: { id: string; quantity: number }[];
}

export interface OrderState {
  _id: string;
  checkoutId: string;
  status: string;
  total: number;
  companyIds: string[];
  items: { productId: string; quantity: number }[];
  paymentId?: string;
  history: { to: string }[];
}

export interface PaymentState {
  _id: string;
  authorizationKey: string;
  orderId: string;
  status: string;
  amount: number;
  captured: number;
  refunded: number;
}

export interface LedgerState {
  /** The authorization key. */
  _id: string;
  status: string;
  captured: number;
  refunds: { amount: number }[];
}

export interface History {
  /** Every unit of each product put on sale: at the start, and restocked since. */
  stockIn: Record<string, number>;
  products: ProductState[];
  orders: OrderState[];
  payments: PaymentState[];
  ledger: LedgerState[];
  checkouts: { _id: string; step: string }[];
  carts: { _id: string; lock: unknown }[];
  /** Idempotency records of every collection that keeps them, by collection. */
  requests: { collection: string; _id: string; state: string }[];
  shipments: { orderId: string; companyId: string }[];
  /** Subjects of every email the relay received. */
  mailSubjects: string[];
  /** Messages left in each dead-letter queue. */
  deadLetters: Record<string, number>;
}

/** Orders whose stock is sold (refunds do not restock: the goods may have shipped). */
const SOLD = new Set(['paid', 'fulfilled', 'delivered', 'refunded']);
const SETTLED_CHECKOUT = new Set(['completed', 'compensated']);
const FINAL_ORDER = new Set(['cancelled', ...SOLD]);
const CAPTURED_PAYMENT = new Set(['captured', 'partially_refunded', 'refunded']);

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function stockViolations(h: History): string[] {
  const sold = new Map<string, number>();
  for (const order of h.orders.filter((o) => SOLD.has(o.status)))
    for (const item of order.items)
      sold.set(item.productId, (sold.get(item.productId) ?? 0) + item.quantity);
  return h.products.flatMap((p) => {
    const reserved = (p.reservations ?? []).reduce((sum, r) => sum + r.quantity, 0);
    const initial = h.stockIn[p._id] ?? 0;
    const found = p.stock + reserved + (sold.get(p._id) ?? 0);
    return [
      ...(found === initial
        ? []
        : [
            `stock of ${p._id} is not conserved: ${initial} put on sale, now ${p.stock} in stock + ${reserved} reserved + ${sold.get(p._id) ?? 0} sold`,
          ]),
      ...(p.stock < 0 ? [`stock of ${p._id} is negative (${p.stock})`] : []),
      ...(reserved > 0 ? [`${p._id} still holds ${reserved} reserved by settled checkouts`] : []),
    ];
  });
}

function paymentViolations(h: History): string[] {
  const found: string[] = [];
  const ordersById = new Map(h.orders.map((o) => [o._id, o]));
  const capturedPayments = h.payments.filter((p) => CAPTURED_PAYMENT.has(p.status));
  const capturesPerOrder = countBy(capturedPayments, (p) => p.orderId);
  for (const payment of capturedPayments) {
    const order = ordersById.get(payment.orderId);
    // An order cancelled while its capture was under way gets all of it back.
    const returned = payment.refunded === payment.captured;
    if (returned && order?.status === 'cancelled') continue;
    if (!order || !SOLD.has(order.status))
      found.push(
        `payment ${payment._id} captured ${payment.captured} for order ${payment.orderId}, which is ${order?.status ?? 'missing'}`,
      );
    else if (order.paymentId !== payment._id)
      found.push(
        `payment ${payment._id} captured for order ${order._id}, which names another payment`,
      );
    if ((capturesPerOrder.get(payment.orderId) ?? 0) > 1)
      found.push(
        `order ${payment.orderId} has ${capturesPerOrder.get(payment.orderId)} captured payments`,
      );
    if (payment.status === 'refunded' && order?.status !== 'refunded')
      found.push(
        `payment ${payment._id} is refunded, its order ${payment.orderId} is ${order?.status}`,
      );
  }
  const paymentsById = new Map(h.payments.map((p) => [p._id, p]));
  for (const order of h.orders.filter((o) => SOLD.has(o.status))) {
    const payment = order.paymentId ? paymentsById.get(order.paymentId) : undefined;
    if (!payment || !CAPTURED_PAYMENT.has(payment.status) || payment.captured !== order.total)
      found.push(
        `order ${order._id} is ${order.status} without a payment capturing its total ${order.total} (${payment ? `${payment.status}, captured ${payment.captured}` : 'no payment'})`,
      );
    if (order.status === 'refunded' && payment && payment.refunded !== payment.captured)
      found.push(
        `order ${order._id} is refunded but its payment returned ${payment.refunded} of ${payment.captured}`,
      );
  }
  return [...new Set(found)];
}

function providerViolations(h: History): string[] {
  const ours = new Map(h.payments.map((p) => [p.authorizationKey, p]));
  const ordersById = new Map(h.orders.map((o) => [o._id, o]));
  return h.ledger.flatMap((entry) => {
    const payment = ours.get(entry._id);
    const order = payment && ordersById.get(payment.orderId);
    if (entry.status === 'authorized')
      return [
        `an authorization stays open at the provider (${entry._id}): our payment is ${payment?.status ?? 'missing'}, its order ${order?.status ?? 'missing'}`,
      ];
    const returned = entry.refunds.reduce((sum, r) => sum + r.amount, 0);
    if (entry.status === 'captured' && (!payment || payment.captured !== entry.captured))
      return [
        `the provider captured ${entry.captured} for ${entry._id}; our payment records ${payment ? `${payment.status}, captured ${payment.captured}` : 'nothing'}`,
      ];
    if (payment && returned !== payment.refunded)
      return [
        `the provider returned ${returned} for ${entry._id}; our payment records ${payment.refunded}`,
      ];
    return [];
  });
}

function settlementViolations(h: History): string[] {
  return [
    ...h.checkouts
      .filter((c) => !SETTLED_CHECKOUT.has(c.step))
      .map((c) => `checkout ${c._id} never settled (still ${c.step})`),
    ...h.orders
      .filter((o) => !FINAL_ORDER.has(o.status))
      .map((o) => `order ${o._id} stays ${o.status}`),
    ...h.carts.filter((c) => c.lock !== null).map((c) => `the cart of ${c._id} stays locked`),
    ...h.requests
      .filter((r) => r.state === 'in_flight')
      .map((r) => `idempotency key ${r._id} (${r.collection}) stays in flight`),
    ...Object.entries(h.deadLetters)
      .filter(([, depth]) => depth > 0)
      .map(([queue, depth]) => `${depth} messages dead-lettered in ${queue}`),
  ];
}

function handOffViolations(h: History): string[] {
  const shipments = countBy(h.shipments, (s) => `${s.orderId}:${s.companyId}`);
  const receipts = countBy(
    h.mailSubjects.filter((s) => s.startsWith('Receipt for order ')),
    (s) => s.slice('Receipt for order '.length),
  );
  const confirmations = countBy(
    h.mailSubjects.filter((s) => s.startsWith('Your order ')),
    (s) => s.slice('Your order '.length),
  );
  const ordersById = new Map(h.orders.map((o) => [o._id, o]));
  const paid = h.orders.filter((o) => o.history.some((c) => c.to === 'paid'));
  return [
    ...paid.flatMap((order) => [
      ...order.companyIds
        .filter((company) => shipments.get(`${order._id}:${company}`) !== 1)
        .map(
          (company) =>
            `paid order ${order._id} gave ${shipments.get(`${order._id}:${company}`) ?? 0} hand-offs to ${company}`,
        ),
      ...(receipts.get(order._id) === 1
        ? []
        : [`paid order ${order._id} gave ${receipts.get(order._id) ?? 0} receipt emails`]),
    ]),
    ...[...confirmations.keys()]
      .filter((id) => !ordersById.get(id)?.history.some((c) => c.to === 'paid'))
      .map((id) => `an order confirmation went out for ${id}, which was never paid`),
  ];
}

/** Every broken invariant, one line each; empty when the history is sound. */
export function violations(history: History): string[] {
  return [
    ...stockViolations(history),
    ...paymentViolations(history),
    ...providerViolations(history),
    ...settlementViolations(history),
    ...handOffViolations(history),
  ];
}
