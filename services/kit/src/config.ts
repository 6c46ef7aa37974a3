// Configuration from the environment, parsed once at start-up. A missing or malformed
// variable stops the service with a message naming it — never its value (it may be secret).
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    return issue.code === 'invalid_type' && issue.input === undefined
      ? `${name}: missing`
      : `${name}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

const csv = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

/** What every service reads; a service extends it with its own variables. */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const serviceEnv = z.object({
  SERVICE: z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be a service name'),
  /** The tenant's Marketplace (the operator sets it): the `marketplace` label of every metric. */
  MARKETPLACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Marketplace name')
    .optional(),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Unset: every interface (in a pod). npm start and the tests set 127.0.0.1.
  HTTP_HOST: z.ipv4().or(z.ipv6()).optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL'),
  AMQP_URL: z.string().regex(/^amqps?:\/\//, 'must be an amqp:// URL'),
  JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1),
  CORS_ORIGINS: csv.pipe(z.array(z.url({ protocol: /^https?$/ }))),
  BODY_LIMIT_KB: z.coerce.number().int().min(1).max(10_240).default(1024),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** How long an answered Idempotency-Key replays its answer; later, it may be used anew. */
  IDEMPOTENCY_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(HOUR_MS)
    .default(7 * DAY_MS),
  /** How long a consumer remembers a message it handled, against a redelivered copy. */
  PROCESSED_MESSAGE_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(HOUR_MS)
    .default(7 * DAY_MS),
  /** The read cache (cache.ts): off without it. The operator's ACL user of this tenant. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// URL')
    .optional(),
  /** Every key the service writes starts with it (`mp-<name>:`); needed with REDIS_URL. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*:$/, 'must be a name ending in a colon')
    .optional(),
  /** The safety net: a cached answer lives at most this long. */
  CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(30),
  /**
   * One Redis call's timeout: past it, a read goes to the database. A loopback round trip
   * takes well under a millisecond; the rest is event-loop lag under load, which a tighter
   * timeout would turn into needless database reads (seen at 100 ms in bench/).
   */
  REDIS_TIMEOUT_MS: z.coerce.number().int().min(5).max(10_000).default(250),
});

export type ServiceEnv = z.infer<typeof serviceEnv>;
