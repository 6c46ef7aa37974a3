// The checkout service's HTTP API.
import { routeFor } from '@gorten/kit';
import { checkout } from './checkout.js';
import type { CheckoutDeps } from './deps.js';
import { checkoutHeaders, checkoutRequest, checkoutResult } from './schemas.js';

const route = routeFor<CheckoutDeps>();

export const CHECKOUT_ROUTES = [
  route({
    method: 'post',
    path: '/checkout',
    operationId: 'checkout',
    summary: 'Buy the cart: reserve stock, create the order, charge the payment method',
    description:
      'Pays with a payment method of the buyer’s (`pm_…`, from POST /payments/methods): no card ' +
      'details reach checkout. ' +
      'Idempotent per Idempotency-Key: the same key and body answer the same; another body is a 422; ' +
      'a request still running is a 409. A 503 means nothing was charged: send the same request again.',
    tags: ['checkout'],
    access: ['buyer'],
    headers: checkoutHeaders,
    body: checkoutRequest,
    responses: { 201: { description: 'The paid order.', schema: checkoutResult } },
    errors: {
      402: 'The card was declined; the order is cancelled and the stock released.',
      409: 'Out of stock (`out_of_stock`), a product no longer sold (`unavailable`), a total other than `expectedTotal` (`total_changed`, with the total now), or a request with this key still running.',
      422: 'The cart is empty (`cart_empty`), the payment method is not the buyer’s (`unknown_payment_method`), or the key was used with another body.',
      503: 'The payment provider did not answer; nothing was charged. Retry.',
    },
    handle: async ({ headers, body, principal }, deps) => {
      const answer = await checkout(deps, principal.userId, headers['idempotency-key'], body);
      return {
        status: answer.status,
        body: answer.body,
        headers: { Location: `/orders/${String(answer.body.orderId)}` },
      };
    },
  }),
];
