// What a running test environment looks like to its users (tests, tools, the operator)
// and where that description lives on disk.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ServerProcess {
  name: string;
  pid: number;
  /** A fragment of the command line, checked before signalling a recorded pid. */
  match: string;
  /** When it started (pids.processStart): a reused pid never passes for it. */
  start?: number;
}

export interface TestEnv {
  dir: string;
  /** The data folder is kept when the environment stops (`npm start`'s local stack). */
  persistent?: boolean;
  logDir: string;
  startedAt: string;
  versions: Record<string, string>;
  processes: ServerProcess[];
  kube: { kubeconfig: string; server: string; token: string; caFile: string };
  mongo: { url: string; user: string; password: string };
  rabbitmq: {
    amqpUrl: string;
    managementUrl: string;
    /** rabbitmq_prometheus: /metrics, and per-queue figures in /metrics/detailed. */
    prometheusUrl: string;
    user: string;
    password: string;
    nodeName: string;
    epmdPort: number;
  };
  /** Redis's admin (its default user); tenants get ACL users of their own. */
  redis: { url: string; address: string; password: string };
  /** Only when started with tracing (npm start). */
  jaeger?: { otlpUrl: string; queryUrl: string };
}

export const repoRoot = resolve(import.meta.dirname, '../../..');

/** `.testenv/` at the repository root (override: GORTEN_TESTENV_HOME). */
export function testenvHome(): string {
  return process.env.GORTEN_TESTENV_HOME ?? join(repoRoot, '.testenv');
}

export function currentEnvFile(): string {
  return join(testenvHome(), 'current.json');
}

/** What the file holds: a complete environment, or the processes of one still starting. */
export type RecordedEnv = Pick<TestEnv, 'dir' | 'processes'> & Partial<TestEnv>;

export function isComplete(env: RecordedEnv): env is TestEnv {
  return env.kube !== undefined && env.mongo !== undefined && env.rabbitmq !== undefined;
}

export function readEnvFile(file: string): RecordedEnv | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RecordedEnv;
}

/**
 * The environment tests run against: GORTEN_TESTENV names its JSON file, otherwise
 * the one `npm run testenv -- up` wrote. Fails loudly when there is none.
 */
export function loadTestEnv(): TestEnv {
  const file = process.env.GORTEN_TESTENV ?? currentEnvFile();
  const env = readEnvFile(file);
  if (!env || !isComplete(env)) {
    throw new Error(
      `No test environment is running (looked for ${file}). ` +
        'Run the tests with `npm test`, or start the servers once with `npm run testenv -- up`.',
    );
  }
  return env;
}

/** Environment variables a child process needs to reach the servers. */
export function envVars(env: TestEnv, file: string): Record<string, string> {
  return {
    GORTEN_TESTENV: file,
    KUBECONFIG: env.kube.kubeconfig,
    GORTEN_MONGO_URL: env.mongo.url,
    GORTEN_AMQP_URL: env.rabbitmq.amqpUrl,
    GORTEN_RABBITMQ_MANAGEMENT_URL: env.rabbitmq.managementUrl,
    // What the operator needs to run against this environment (npm run operator).
    GORTEN_MONGO_ADMIN_URL: env.mongo.url,
    GORTEN_RABBITMQ_ADMIN_USER: env.rabbitmq.user,
    GORTEN_RABBITMQ_ADMIN_PASSWORD: env.rabbitmq.password,
    GORTEN_MONGO_TENANT_HOST: new URL(env.mongo.url).host,
    GORTEN_AMQP_TENANT_HOST: new URL(env.rabbitmq.amqpUrl).host,
    GORTEN_REDIS_ADMIN_URL: env.redis.url,
    ...(env.jaeger
      ? { GORTEN_JAEGER_OTLP_URL: env.jaeger.otlpUrl, GORTEN_JAEGER_QUERY_URL: env.jaeger.queryUrl }
      : {}),
  };
}
