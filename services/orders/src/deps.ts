// What the orders service's use cases work with; built once at start (app.ts).
import type { OrdersEnv } from './config.js';
import type { ManageDeps } from './fulfilment.js';

export interface OrdersDeps extends ManageDeps {
  env: OrdersEnv;
}
