// The operator's configuration, parsed once from the environment. A missing or malformed
// variable stops start-up with its name.
import { hostname } from 'node:os';
import { z } from 'zod';
import type { RedisAdminTarget } from './clients/redis-admin.js';
import { DEFAULT_SETTINGS, type OperatorSettings } from './settings.js';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(0).max(65535);

/** A Kubernetes label key (optional DNS prefix, then a name) and value. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** `key=value,key=value` (empty: none) as a label map; a malformed pair is named. */
const labels = z.string().transform((text, ctx) => {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const [key = '', value = '', ...rest] = pair.split('=');
    if (
      rest.length > 0 ||
      !pair.includes('=') ||
      !LABEL_KEY.test(key) ||
      !LABEL_VALUE.test(value)
    ) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not a label key=value` });
      return z.NEVER;
    }
    out[key] = value;
  }
  return out;
});

/** A variable set to nothing counts as unset (as the OTEL_* variables do). */
const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/**
 * The collector the tenants' pods send spans to. It is written into each tenant's
 * ConfigMap, which is no Secret: a URL with credentials is refused (never echoed).
 */
const otlpEndpoint = z
  .url({
    protocol: /^https?$/,
    error: "must be an http:// or https:// URL (a collector's OTLP/HTTP endpoint)",
  })
  .refine((url) => {
    const parsed = URL.parse(url); // null: the check above has said so already
    return parsed === null || (parsed.username === '' && parsed.password === '');
  }, "must not carry credentials: it is written into every tenant's ConfigMap");

/** host:port, or [IPv6]:port: where the tenants' pods reach a server. */
const hostPort = z
  .string()
  .regex(
    /^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/,
    "must be host:port (Redis as the tenants' pods reach it)",
  );

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Redis's own port, where a URL names none. */
export const DEFAULT_REDIS_PORT = 6379;

/** The in-cluster Redis (the chart's default). */
export const DEFAULT_REDIS_TENANT_HOST = `redis.gorten-system.svc:${DEFAULT_REDIS_PORT}`;

/**
 * The Redis admin as configured. An unusable URL does not stop the operator: the cache
 * plane reports it (CacheReady False, InvalidRedisUrl) and the other planes go on. The
 * URL holds a password, so the problem never repeats it.
 */
export function redisAdminTarget(text: string): RedisAdminTarget {
  const url = URL.parse(text);
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:'))
    return {
      invalid:
        'GORTEN_REDIS_ADMIN_URL must be a redis:// or rediss:// URL, redis://user:password@host:port (its value is not shown: it holds a password)',
    };
  if (url.hostname === '')
    return { invalid: 'GORTEN_REDIS_ADMIN_URL has no host (redis://user:password@host:port)' };
  return { url: text };
}

/**
 * Redis as the tenants' pods reach it: as set, else the admin's own address when that is
 * on loopback (everything on one machine), else the in-cluster default.
 */
export function redisTenantHost(adminUrl: string, configured: string | undefined): string {
  if (configured) return configured;
  const url = new URL(adminUrl);
  return LOOPBACK.has(url.hostname)
    ? `${url.hostname}:${url.port || DEFAULT_REDIS_PORT}`
    : DEFAULT_REDIS_TENANT_HOST;
}

const ratio = z.coerce
  .number({ error: 'must be a number from 0 to 1' })
  .min(0, 'must be a number from 0 to 1')
  .max(1, 'must be a number from 0 to 1');

const envSchema = z.object({
  KUBECONFIG: z.string().optional(),
  GORTEN_MONGO_ADMIN_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL'),
  GORTEN_RABBITMQ_MANAGEMENT_URL: z.url({ protocol: /^https?$/ }),
  GORTEN_RABBITMQ_ADMIN_USER: z.string().min(1),
  GORTEN_RABBITMQ_ADMIN_PASSWORD: z.string().min(1),
  GORTEN_MONGO_TENANT_HOST: z.string().min(1).default(DEFAULT_SETTINGS.mongoTenantHost),
  GORTEN_AMQP_TENANT_HOST: z.string().min(1).default(DEFAULT_SETTINGS.amqpTenantHost),
  // Unset: no cache. Checked by redisAdminTarget, which never fails start-up.
  GORTEN_REDIS_ADMIN_URL: z.preprocess(unsetIfEmpty, z.string().optional()),
  GORTEN_REDIS_TENANT_HOST: z.preprocess(unsetIfEmpty, hostPort.optional()),
  GORTEN_KONG_PROBLEM_DETAILS: bool.default(DEFAULT_SETTINGS.kongProblemDetails),
  GORTEN_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^/]/, 'must be an smtp:// or smtps:// URL')
    .default(DEFAULT_SETTINGS.smtpUrl),
  GORTEN_IMAGE_REPOSITORY: z.string().min(1).default(DEFAULT_SETTINGS.image.repository),
  GORTEN_IMAGE_TAG: z.string().min(1).default(DEFAULT_SETTINGS.image.tag),
  GORTEN_METRICS_PORT: port.default(8080),
  // Unset: every interface (in a pod). npm start sets 127.0.0.1.
  GORTEN_METRICS_HOST: z.ipv4().or(z.ipv6()).optional(),
  GORTEN_LEADER_ELECT: bool.default(true),
  GORTEN_LEASE_NAMESPACE: z.string().min(1).optional(),
  GORTEN_LEASE_NAME: z.string().min(1).default('gorten-operator'),
  GORTEN_INSTALL_CRDS: bool.default(false),
  GORTEN_RESYNC_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  GORTEN_SERVICE_MONITOR_RECHECK_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  GORTEN_TENANT_STOP_DEADLINE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(DEFAULT_SETTINGS.tenantStopDeadlineSeconds),
  GORTEN_TENANT_MONITOR_LABELS: labels.default({}),
  // Unset: the tenants' services trace nothing. The ratio matters only with an endpoint.
  GORTEN_TENANT_OTLP_ENDPOINT: z.preprocess(unsetIfEmpty, otlpEndpoint.optional()),
  GORTEN_TENANT_TRACE_SAMPLE_RATIO: z.preprocess(unsetIfEmpty, ratio.default(1)),
  GORTEN_MARKETPLACE_SELECTOR: z.string().min(1).optional(),
  GORTEN_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  GORTEN_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  // Both or neither: the ClusterRole bound in tenant namespaces, to this ServiceAccount.
  GORTEN_TENANT_ROLE: z.string().min(1).optional(),
  GORTEN_SERVICE_ACCOUNT: z.string().min(1).optional(),
  POD_NAME: z.string().optional(),
  POD_NAMESPACE: z.string().optional(),
});

const configSchema = envSchema.superRefine((e, ctx) => {
  if (e.GORTEN_TENANT_ROLE && !(e.GORTEN_SERVICE_ACCOUNT && e.POD_NAMESPACE))
    ctx.addIssue({
      code: 'custom',
      path: ['GORTEN_SERVICE_ACCOUNT'],
      message: 'GORTEN_TENANT_ROLE needs GORTEN_SERVICE_ACCOUNT and POD_NAMESPACE',
    });
});

export interface OperatorConfig {
  kubeconfig?: string;
  mongoAdminUrl: string;
  /** Redis for the tenants' caches; undefined: the cache is off. */
  redisAdmin?: RedisAdminTarget;
  rabbitmq: { managementUrl: string; user: string; password: string };
  settings: OperatorSettings;
  metricsPort: number;
  /** The address /metrics, /healthz and /readyz listen on; undefined: every interface. */
  metricsHost?: string;
  leaderElection: { enabled: boolean; namespace: string; name: string; identity: string };
  installCrds: boolean;
  resyncMs: number;
  /** How long an answer to "does the cluster serve ServiceMonitors?" is trusted. */
  serviceMonitorRecheckMs: number;
  concurrency: number;
  /** Label selector limiting which Marketplaces (and their Companies) this operator serves. */
  selector?: string;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid operator configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const redisAdmin =
    e.GORTEN_REDIS_ADMIN_URL === undefined ? undefined : redisAdminTarget(e.GORTEN_REDIS_ADMIN_URL);
  return {
    kubeconfig: e.KUBECONFIG,
    mongoAdminUrl: e.GORTEN_MONGO_ADMIN_URL,
    ...(redisAdmin ? { redisAdmin } : {}),
    rabbitmq: {
      managementUrl: e.GORTEN_RABBITMQ_MANAGEMENT_URL,
      user: e.GORTEN_RABBITMQ_ADMIN_USER,
      password: e.GORTEN_RABBITMQ_ADMIN_PASSWORD,
    },
    settings: {
      ...DEFAULT_SETTINGS,
      image: { repository: e.GORTEN_IMAGE_REPOSITORY, tag: e.GORTEN_IMAGE_TAG },
      mongoTenantHost: e.GORTEN_MONGO_TENANT_HOST,
      amqpTenantHost: e.GORTEN_AMQP_TENANT_HOST,
      smtpUrl: e.GORTEN_SMTP_URL,
      tenantStopDeadlineSeconds: e.GORTEN_TENANT_STOP_DEADLINE_SECONDS,
      kongProblemDetails: e.GORTEN_KONG_PROBLEM_DETAILS,
      ...(redisAdmin && 'url' in redisAdmin
        ? { redisTenantHost: redisTenantHost(redisAdmin.url, e.GORTEN_REDIS_TENANT_HOST) }
        : {}),
      tenantMonitorLabels: e.GORTEN_TENANT_MONITOR_LABELS,
      ...(e.GORTEN_TENANT_OTLP_ENDPOINT
        ? {
            tenantTracing: {
              otlpEndpoint: e.GORTEN_TENANT_OTLP_ENDPOINT,
              sampleRatio: e.GORTEN_TENANT_TRACE_SAMPLE_RATIO,
            },
          }
        : {}),
      ...(e.GORTEN_TENANT_ROLE && e.GORTEN_SERVICE_ACCOUNT && e.POD_NAMESPACE
        ? {
            tenantAccess: {
              clusterRole: e.GORTEN_TENANT_ROLE,
              serviceAccount: { namespace: e.POD_NAMESPACE, name: e.GORTEN_SERVICE_ACCOUNT },
            },
          }
        : {}),
    },
    metricsPort: e.GORTEN_METRICS_PORT,
    metricsHost: e.GORTEN_METRICS_HOST,
    leaderElection: {
      enabled: e.GORTEN_LEADER_ELECT,
      namespace: e.GORTEN_LEASE_NAMESPACE ?? e.POD_NAMESPACE ?? 'default',
      name: e.GORTEN_LEASE_NAME,
      identity: e.POD_NAME ?? `${hostname()}-${process.pid}`,
    },
    installCrds: e.GORTEN_INSTALL_CRDS,
    resyncMs: e.GORTEN_RESYNC_SECONDS * 1000,
    serviceMonitorRecheckMs: e.GORTEN_SERVICE_MONITOR_RECHECK_SECONDS * 1000,
    concurrency: e.GORTEN_CONCURRENCY,
    selector: e.GORTEN_MARKETPLACE_SELECTOR,
    logLevel: e.GORTEN_LOG_LEVEL,
  };
}
