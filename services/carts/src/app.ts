// The carts service as the kit starts it.
import type { ServiceDefinition } from '@gorten/kit';
import { createCartOps } from './carts.js';
import { CARTS_ROUTES, type CartsDeps } from './routes.js';
import { cartsEnv, type CartsEnv } from './schemas.js';
import { CARTS_INDEXES } from './store.js';

export const cartsService: ServiceDefinition<CartsEnv, CartsDeps> = {
  info: {
    title: 'Gorten carts',
    version: '0.1.0',
    description: 'The buyer’s shopping cart in one marketplace.',
  },
  env: cartsEnv,
  indexes: CARTS_INDEXES,
  routes: CARTS_ROUTES,
  deps: ({ env, db }) => ({ env, ...createCartOps(db) }),
};
