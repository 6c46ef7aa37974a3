// Bringing a whole test environment up and down, and telling whether one is healthy.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartupError, stopServer } from './process.js';
import { commandLine, isAlive, processStart } from './pids.js';
import {
  currentEnvFile,
  readEnvFile,
  testenvHome,
  type ServerProcess,
  type TestEnv,
} from './state.js';
import { ensureBinaries, goServerVersions } from './binaries.js';
import type { StartContext } from './servers/context.js';
import { kubeApi } from './servers/kube.js';
import { startKubePlane } from './servers/kube-plane.js';
import { pingMongo, startFerretDb } from './servers/ferretdb.js';
import { startJaegerServer } from './servers/jaeger.js';
import { startRabbitMq } from './servers/rabbitmq.js';
import { pingRedis, redisVersion, startRedisServer } from './servers/redis.js';
import { okBody } from './http.js';

function isOurs(proc: ServerProcess): boolean {
  if (!isAlive(proc.pid)) return false;
  return proc.start !== undefined
    ? processStart(proc.pid) === proc.start
    : (commandLine(proc.pid) ?? '').includes(proc.match);
}

/** Stops every process of an environment, newest first, and removes its data unless kept. */
export async function stopEnvironment(
  env: Pick<TestEnv, 'processes' | 'dir' | 'persistent'>,
): Promise<void> {
  for (const proc of [...env.processes].reverse()) {
    if (isOurs(proc)) await stopServer(proc.pid);
  }
  if (!env.persistent) rmSync(env.dir, { recursive: true, force: true });
}

/** Problems of a recorded environment; an empty list means it is up and answering. */
export async function checkEnvironment(env: TestEnv): Promise<string[]> {
  const problems = env.processes
    .filter((p) => !isOurs(p))
    .map((p) => `${p.name} (pid ${p.pid}) is not running`);
  if (problems.length > 0) return problems;
  const probes: [string, () => Promise<unknown>][] = [
    ['kube-apiserver', () => kubeApi(env.kube, 'GET', '/version')],
    ['FerretDB', () => pingMongo(env.mongo.url)],
    [
      'RabbitMQ',
      () =>
        okBody(`${env.rabbitmq.managementUrl}/api/overview`, {
          headers: {
            authorization: `Basic ${Buffer.from(`${env.rabbitmq.user}:${env.rabbitmq.password}`).toString('base64')}`,
          },
        }),
    ],
    // An environment recorded before the broker had its Prometheus listener is stale.
    ['RabbitMQ Prometheus', () => okBody(`${env.rabbitmq.prometheusUrl}/metrics`)],
    // An environment recorded before Redis joined it has none: stale, start a new one.
    [
      'Redis',
      () =>
        (env.redis as TestEnv['redis'] | undefined)
          ? pingRedis(env.redis.address, env.redis.password)
          : Promise.reject(new Error('this environment has no Redis')),
    ],
  ];
  const jaeger = env.jaeger;
  if (jaeger) probes.push(['Jaeger', () => okBody(`${jaeger.queryUrl}/api/services`)]);
  for (const [name, probe] of probes) {
    try {
      await probe();
    } catch (err) {
      problems.push(`${name} does not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

export interface EnvironmentOptions {
  /** Keep the data here for a later start (npm start); else a new temporary folder. */
  dataDir?: string;
  /**
   * Run Jaeger too (npm start). Tests that look at traces start a Jaeger of their own
   * (jaeger.ts), so the shared environment runs none.
   */
  tracing?: boolean;
}

/**
 * Starts all servers on free ports and records them: in a new temporary folder, or in
 * `dataDir`, whose data a later start reuses.
 */
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<TestEnv> {
  const home = testenvHome();
  const logDir = join(home, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const goVersions = goServerVersions();
  const binary = ensureBinaries(goVersions);
  const persistent = options.dataDir !== undefined;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gorten-testenv-'));
  mkdirSync(dir, { recursive: true });
  const file = currentEnvFile();
  const partial: Pick<TestEnv, 'dir' | 'processes' | 'persistent'> = {
    dir,
    persistent,
    processes: [],
  };
  const ctx: StartContext = {
    dataDir: dir,
    persistent,
    logDir,
    binary,
    record(proc) {
      partial.processes.push({ ...proc, start: processStart(proc.pid) });
      writeFileSync(file, JSON.stringify({ ...partial, logDir, starting: true }, null, 2));
    },
  };
  // Let every starter settle before cleaning up, so nothing is spawned afterwards.
  const [kube, mongo, rabbitmq, redis, jaeger] = await Promise.allSettled([
    startKubePlane(ctx),
    startFerretDb(ctx),
    startRabbitMq(ctx),
    startRedisServer(ctx),
    options.tracing ? startJaegerServer(ctx) : Promise.resolve(undefined),
  ]);
  if (
    kube.status === 'rejected' ||
    mongo.status === 'rejected' ||
    rabbitmq.status === 'rejected' ||
    redis.status === 'rejected' ||
    jaeger.status === 'rejected'
  ) {
    await stopEnvironment(partial);
    rmSync(file, { force: true });
    const reasons = [kube, mongo, rabbitmq, redis, jaeger].flatMap((r) =>
      r.status === 'rejected'
        ? [r.reason instanceof Error ? r.reason.message : String(r.reason)]
        : [],
    );
    throw new StartupError(reasons.join('\n\n'));
  }
  const env: TestEnv = {
    dir,
    persistent,
    logDir,
    startedAt: new Date().toISOString(),
    versions: {
      kubernetes: goVersions.kubernetes,
      etcd: goVersions.etcd,
      kwok: goVersions.kwok,
      ferretdb: goVersions.ferretdb,
      'kong-crds': goVersions.kongCrds,
      rabbitmq: rabbitmq.value.version,
      redis: redisVersion(),
      ...(jaeger.value ? { jaeger: goVersions.jaeger } : {}),
    },
    processes: partial.processes,
    kube: {
      kubeconfig: kube.value.kubeconfig,
      server: kube.value.server,
      token: kube.value.token,
      caFile: kube.value.caFile,
    },
    mongo: mongo.value,
    rabbitmq: {
      amqpUrl: rabbitmq.value.amqpUrl,
      managementUrl: rabbitmq.value.managementUrl,
      prometheusUrl: rabbitmq.value.prometheusUrl,
      user: rabbitmq.value.user,
      password: rabbitmq.value.password,
      nodeName: rabbitmq.value.nodeName,
      epmdPort: rabbitmq.value.epmdPort,
    },
    redis: redis.value,
    ...(jaeger.value ? { jaeger: jaeger.value } : {}),
  };
  writeFileSync(file, JSON.stringify(env, null, 2), { mode: 0o600 });
  return env;
}

/**
 * Runs `start` while holding `.testenv/starting.lock`, so two `up`s at once cannot both
 * start an environment (the second would overwrite the first's record and orphan it).
 * A lock left by a process that died is taken over.
 */
export async function withStartLock<T>(start: () => Promise<T>): Promise<T> {
  const lock = join(testenvHome(), 'starting.lock');
  mkdirSync(testenvHome(), { recursive: true });
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8'));
      if (holder && isAlive(holder)) {
        throw new StartupError(
          `another test environment is starting (pid ${holder}); wait for it, or stop it and run again`,
        );
      }
      rmSync(lock, { force: true });
    }
  }
  try {
    return await start();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Stops whatever the recorded environment file describes, healthy or half-started. */
export async function stopRecordedEnvironment(): Promise<boolean> {
  const file = currentEnvFile();
  const env = readEnvFile(file);
  if (!env) return false;
  await stopEnvironment(env);
  rmSync(file, { force: true });
  return true;
}
