// What the payments service's use cases work with; built once at start (app.ts).
import type { PaymentsEnv } from './config.js';
import type { PaymentOps } from './payments.js';

export interface PaymentsDeps extends PaymentOps {
  env: PaymentsEnv;
}
