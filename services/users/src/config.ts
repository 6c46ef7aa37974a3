// The users service reads the common service environment plus the tenant's private
// signing key (only this service gets it) and its token and password policy.
import { serviceEnv } from '@gorten/kit';
import { z } from 'zod';

const seconds = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const usersEnv = serviceEnv.extend({
  JWT_PRIVATE_KEY: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  ACCESS_TOKEN_TTL_SECONDS: seconds(60, 3_600, 900),
  REFRESH_TOKEN_TTL_SECONDS: seconds(3_600, 90 * 86_400, 30 * 86_400),
  /** log2 of scrypt's N; 17 is OWASP's minimum. Lower only for tests and demos. */
  PASSWORD_SCRYPT_LOG2N: z.coerce.number().int().min(12).max(20).default(17),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  /** Failures from one address before it is throttled too (shared NATs send many users). */
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(10_000).default(50),
  LOGIN_WINDOW_SECONDS: seconds(60, 86_400, 900),
  /** A first admin, created at start when no user has this email. */
  BOOTSTRAP_ADMIN_EMAIL: z.email().optional(),
  BOOTSTRAP_ADMIN_PASSWORD: z.string().min(12).max(128).optional(),
});

export type UsersEnv = z.infer<typeof usersEnv>;
