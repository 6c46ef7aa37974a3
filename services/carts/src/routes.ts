// The carts service's HTTP API: the signed-in buyer's own cart (there is no way to name
// another buyer's cart, so there is none to reach).
import { routeFor } from '@gorten/kit';
import { clearCart, getCart, removeItem, setItem } from './carts.js';
import type { CartsDeps } from './deps.js';
import { cart, itemParams, quantity } from './schemas.js';

const route = routeFor<CartsDeps>();
const answer = async (body: Promise<unknown>) => ({ status: 200, body: await body });

export const CARTS_ROUTES = [
  route({
    method: 'get',
    path: '/carts/me',
    operationId: 'getMyCart',
    summary: 'The buyer’s cart, priced from the catalog now',
    tags: ['carts'],
    access: ['buyer'],
    responses: { 200: { description: 'The cart.', schema: cart } },
    handle: (request, deps) => answer(getCart(deps, request.principal.userId, deps.env.CURRENCY)),
  }),
  route({
    method: 'put',
    path: '/carts/me/items/:productId',
    operationId: 'setCartItem',
    summary: 'Put a product in the cart, or change its quantity',
    tags: ['carts'],
    access: ['buyer'],
    params: itemParams,
    body: quantity,
    responses: { 200: { description: 'The cart.', schema: cart } },
    errors: {
      409: 'Not enough in stock, or a checkout of the cart is in progress.',
      422: 'The product is not for sale (not active, or its company is suspended or removed), or the cart is full.',
    },
    handle: (request, deps) =>
      answer(
        setItem(
          deps,
          request.principal.userId,
          request.params.productId,
          request.body.quantity,
          deps.env.CURRENCY,
        ),
      ),
  }),
  route({
    method: 'delete',
    path: '/carts/me/items/:productId',
    operationId: 'removeCartItem',
    summary: 'Take a product out of the cart',
    tags: ['carts'],
    access: ['buyer'],
    params: itemParams,
    responses: { 200: { description: 'The cart.', schema: cart } },
    errors: { 409: 'A checkout of the cart is in progress.' },
    handle: (request, deps) =>
      answer(
        removeItem(deps, request.principal.userId, request.params.productId, deps.env.CURRENCY),
      ),
  }),
  route({
    method: 'delete',
    path: '/carts/me',
    operationId: 'clearMyCart',
    summary: 'Empty the cart',
    tags: ['carts'],
    access: ['buyer'],
    responses: { 200: { description: 'The empty cart.', schema: cart } },
    errors: { 409: 'A checkout of the cart is in progress.' },
    handle: (request, deps) => answer(clearCart(deps, request.principal.userId, deps.env.CURRENCY)),
  }),
];
