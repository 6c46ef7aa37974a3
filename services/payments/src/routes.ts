// The payments service's HTTP API: tokenizing a buyer's card into a payment method (the
// only endpoint that ever sees card details) and listing the buyer's methods, reading payments, and the simulated
// provider's test cards. Payments are made by checkout and refunded through orders, so
// an order and its payment never disagree.
import { routeFor } from '@gorten/kit';
import type { PaymentsDeps } from './deps.js';
import { createPaymentMethod, paymentMethodsOf } from './payments.js';
import { getPayment, listPayments } from './queries.js';
import {
  cardDetails,
  payment,
  paymentMethod,
  paymentMethodList,
  paymentPage,
  paymentParams,
  paymentQuery,
  testCards,
} from './schemas.js';
import { TEST_CARDS } from './simulated-provider.js';

const route = routeFor<PaymentsDeps>();

const BEHAVIOUR: Record<keyof typeof TEST_CARDS, string> = {
  success: 'authorized',
  declined: 'declined: card_declined',
  insufficientFunds: 'declined: insufficient_funds',
  slowFirstAttempt:
    'authorized, but the first attempt of a checkout answers too late (the checkout is compensated; a retry succeeds)',
};

export const PAYMENTS_ROUTES = [
  route({
    method: 'post',
    path: '/payments/methods',
    operationId: 'createPaymentMethod',
    summary: 'Tokenize a card into a payment method for checkout',
    description:
      'What a real provider’s browser form does: the card goes to the provider, which keeps it ' +
      'and answers a payment method (`pm_…`) of the calling buyer. Checkout takes that id; no ' +
      'other endpoint takes card details, and nothing but brand, last four digits and expiry is ' +
      'kept outside the provider. Another buyer cannot pay with it (checkout answers 422).',
    tags: ['payments'],
    access: ['buyer'],
    body: cardDetails,
    responses: { 201: { description: 'The payment method.', schema: paymentMethod } },
    errors: {
      400: 'A field breaks its format.',
      422: 'Not a card the provider takes: the number fails the Luhn check, or the card has expired (`reason: invalid_card`, `errors` names the fields).',
    },
    handle: async ({ body, principal }, deps) => {
      const { customer: _customer, ...method } = await createPaymentMethod(
        deps,
        principal.userId,
        body,
      );
      return { status: 201, body: method };
    },
  }),
  route({
    method: 'get',
    path: '/payments/methods',
    operationId: 'listPaymentMethods',
    summary: 'The buyer’s own payment methods, newest first',
    tags: ['payments'],
    access: ['buyer'],
    responses: { 200: { description: 'The methods.', schema: paymentMethodList } },
    handle: async ({ principal }, deps) => ({
      status: 200,
      body: {
        items: (await paymentMethodsOf(deps, principal.userId)).map(
          ({ customer: _customer, ...method }) => method,
        ),
      },
    }),
  }),
  route({
    method: 'get',
    path: '/payments/test-cards',
    operationId: 'listTestCards',
    summary: 'The simulated provider’s test cards and what each does',
    tags: ['payments'],
    access: 'public',
    responses: { 200: { description: 'The cards.', schema: testCards } },
    handle: (_request, deps) =>
      Promise.resolve({
        status: 200,
        body: {
          provider: deps.provider.name,
          cards: Object.entries(TEST_CARDS).map(([name, number]) => ({
            number,
            behaviour: BEHAVIOUR[name as keyof typeof TEST_CARDS],
          })),
        },
      }),
  }),
  route({
    method: 'get',
    path: '/payments',
    operationId: 'listPayments',
    summary: 'Payments: a buyer’s own, or all for admins',
    tags: ['payments'],
    access: 'authenticated',
    query: paymentQuery,
    responses: { 200: { description: 'A page of payments, newest first.', schema: paymentPage } },
    handle: async ({ query, principal }, deps) => ({
      status: 200,
      body: await listPayments(deps, principal, query),
    }),
  }),
  route({
    method: 'get',
    path: '/payments/:id',
    operationId: 'getPayment',
    summary: 'One payment (its buyer, admins)',
    tags: ['payments'],
    access: 'authenticated',
    params: paymentParams,
    responses: { 200: { description: 'The payment.', schema: payment } },
    errors: { 404: 'No such payment, or not the caller’s.' },
    handle: async ({ params, principal }, deps) => ({
      status: 200,
      body: await getPayment(deps, principal, params.id),
    }),
  }),
];
