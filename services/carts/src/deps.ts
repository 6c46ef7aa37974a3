// What the carts service's use cases work with; built once at start (app.ts).
import type { CartModule } from './carts.js';
import type { CartsEnv } from './config.js';

export interface CartsDeps extends CartModule {
  env: CartsEnv;
}
