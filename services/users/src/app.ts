// The users service as the kit starts it: its environment, collections, routes, the
// outbox of user events, and housekeeping. No I/O here; startService does that.
import type { ServiceDefinition } from '@gorten/kit';
import { bootstrapAdmin } from './accounts.js';
import { usersEnv, type UsersEnv } from './config.js';
import type { UsersDeps } from './deps.js';
import { DEFAULT_COST } from './passwords.js';
import { USERS_ROUTES } from './routes.js';
import { sweepExpired, USERS_INDEXES, usersStore } from './store.js';
import { LoginThrottle } from './throttle.js';

export const usersService: ServiceDefinition<UsersEnv, UsersDeps> = {
  info: {
    title: 'Gorten users',
    version: '0.1.0',
    description:
      'Accounts and sign-in for one marketplace: registration, tokens, profiles and user administration.',
  },
  env: usersEnv,
  indexes: USERS_INDEXES,
  routes: USERS_ROUTES,
  outboxCollections: ['users'],
  deps: ({ env, db }) => {
    const store = usersStore(db);
    return {
      env,
      store,
      cost: { ...DEFAULT_COST, log2N: env.PASSWORD_SCRYPT_LOG2N },
      signer: {
        privateKey: env.JWT_PRIVATE_KEY,
        issuer: env.JWT_ISSUER,
        audience: env.JWT_AUDIENCE,
        ttlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      },
      throttle: new LoginThrottle(store.loginFailures, {
        perEmail: env.LOGIN_MAX_FAILURES,
        perAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
        windowSeconds: env.LOGIN_WINDOW_SECONDS,
      }),
      now: () => new Date(),
    };
  },
  onStart: (deps) =>
    bootstrapAdmin(deps, deps.env.BOOTSTRAP_ADMIN_EMAIL, deps.env.BOOTSTRAP_ADMIN_PASSWORD),
  periodic: (deps) => [
    { name: 'sweep-expired', everyMs: 60_000, run: () => sweepExpired(deps.store, deps.now()) },
  ],
};
