// The carts service as the kit starts it.
import type { ServiceDefinition } from '@gorten/kit';
import { createCartModule } from './carts.js';
import { cartsEnv, type CartsEnv } from './config.js';
import type { CartsDeps } from './deps.js';
import { CARTS_ROUTES } from './routes.js';
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
  deps: ({ env, db }) => ({ env, ...createCartModule(db) }),
};
