// What the users service's use cases work with; built once at start (app.ts).
import type { UsersEnv } from './config.js';
import type { ScryptCost } from './passwords.js';
import type { UsersStore } from './store.js';
import type { LoginThrottle } from './throttle.js';
import type { Signer } from './tokens.js';

export interface UsersDeps {
  env: UsersEnv;
  store: UsersStore;
  cost: ScryptCost;
  signer: Signer;
  throttle: LoginThrottle;
  now: () => Date;
}
