// What the payments service's use cases work with; built once at start (app.ts).
import type { PaymentsEnv } from './config.js';
import type { PaymentModule } from './payments.js';

export interface PaymentsDeps extends PaymentModule {
  env: PaymentsEnv;
}
