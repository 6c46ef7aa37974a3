// The orders service's HTTP API: validate → one use case → answer.
import { routeFor } from '@gorten/kit';
import type { OrdersDeps } from './deps.js';
import { changeStatus, refundOrder } from './fulfilment.js';
import { listOrders, toOrder, visibleOrder } from './queries.js';
import {
  idempotencyHeaders,
  order,
  orderPage,
  orderParams,
  orderQuery,
  refundRequest,
  statusChange,
} from './schemas.js';

const route = routeFor<OrdersDeps>();

export const ORDERS_ROUTES = [
  route({
    method: 'get',
    path: '/orders',
    operationId: 'listOrders',
    summary: 'Orders: a buyer’s own, those holding a seller’s items, or all for admins',
    tags: ['orders'],
    access: 'authenticated',
    query: orderQuery,
    responses: { 200: { description: 'A page of orders, newest first.', schema: orderPage } },
    handle: async ({ query, principal }, deps) => ({
      status: 200,
      body: await listOrders(deps.store, principal, query),
    }),
  }),
  route({
    method: 'get',
    path: '/orders/:id',
    operationId: 'getOrder',
    summary: 'One order as the caller may see it',
    tags: ['orders'],
    access: 'authenticated',
    params: orderParams,
    responses: { 200: { description: 'The order.', schema: order } },
    errors: { 404: 'No such order, or not one the caller may see.' },
    handle: async ({ params, principal }, deps) => ({
      status: 200,
      body: toOrder(await visibleOrder(deps.store, principal, params.id), principal),
    }),
  }),
  route({
    method: 'post',
    path: '/orders/:id/status',
    operationId: 'changeOrderStatus',
    summary: 'Fulfil, deliver or cancel an order (admins; sellers for orders wholly theirs)',
    tags: ['orders'],
    access: ['seller', 'admin'],
    params: orderParams,
    body: statusChange,
    responses: { 200: { description: 'The order.', schema: order } },
    errors: { 404: 'No such order.', 409: 'The move is not allowed from the order’s status.' },
    handle: async ({ params, body, principal }, deps) => ({
      status: 200,
      body: await changeStatus(deps, principal, params.id, body),
    }),
  }),
  route({
    method: 'post',
    path: '/orders/:id/refund',
    operationId: 'refundOrder',
    summary: 'Refund a paid order in full (admins); idempotent per Idempotency-Key',
    tags: ['orders'],
    access: ['admin'],
    params: orderParams,
    headers: idempotencyHeaders,
    body: refundRequest,
    responses: { 200: { description: 'The refunded order.', schema: order } },
    errors: {
      404: 'No such order.',
      409: 'The key is in use by a request still running, or the order moved meanwhile.',
      422: 'Nothing captured to refund, or the key was used with another body.',
    },
    handle: async ({ params, body, headers, principal }, deps) =>
      refundOrder(deps, principal, params.id, body.reason, headers['idempotency-key']),
  }),
];
