// What the orders service's use cases work with; built once at start (app.ts).
import type { OrdersEnv } from './config.js';
import type { FulfilmentDeps } from './fulfilment.js';

export interface OrdersDeps extends FulfilmentDeps {
  env: OrdersEnv;
}
