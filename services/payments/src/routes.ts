// The payments service's HTTP API: reading payments, and the simulated provider's test
// cards. Payments are made by checkout and refunded through orders, so an order and its
// payment never disagree.
import { routeFor } from '@gorten/kit';
import type { PaymentsDeps } from './deps.js';
import { getPayment, listPayments } from './queries.js';
import { payment, paymentPage, paymentParams, paymentQuery, testCards } from './schemas.js';
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
