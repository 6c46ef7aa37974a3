// npm run testenv -- up | down | status | exec -- <command...>
import { spawn } from 'node:child_process';
import {
  checkEnvironment,
  startEnvironment,
  stopRecordedEnvironment,
  withStartLock,
} from './environment.js';
import { currentEnvFile, envVars, isComplete, readEnvFile, type TestEnv } from './state.js';

const USAGE = `usage: npm run testenv -- <command>
  up                 start the servers (reuses a healthy running environment)
  down               stop the servers and delete their data
  status             tell whether an environment is running and healthy
  exec -- cmd [arg]  run cmd against a running environment, or start one for it and stop it after`;

function describe(env: TestEnv): string {
  const versions = Object.entries(env.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `servers: ${versions}`,
    `KUBECONFIG=${env.kube.kubeconfig}  (kube-apiserver ${env.kube.server})`,
    `MongoDB wire (FerretDB): ${env.mongo.url.replace(/:[^:@/]+@/, ':***@')}`,
    `RabbitMQ: ${env.rabbitmq.amqpUrl.replace(/:[^:@/]+@/, ':***@')}, management ${env.rabbitmq.managementUrl}`,
    `logs: ${env.logDir}`,
  ].join('\n');
}

/** A healthy recorded environment, or undefined after cleaning up a stale one. */
async function healthyEnvironment(): Promise<TestEnv | undefined> {
  const env = readEnvFile(currentEnvFile());
  if (!env) return undefined;
  const problems = isComplete(env) ? await checkEnvironment(env) : ['it never finished starting'];
  if (problems.length === 0 && isComplete(env)) return env;
  console.error(`testenv: cleaning up a stale environment (${problems.join('; ')})`);
  await stopRecordedEnvironment();
  return undefined;
}

function up(): Promise<{ env: TestEnv; started: boolean }> {
  return withStartLock(upUnlocked);
}

async function upUnlocked(): Promise<{ env: TestEnv; started: boolean }> {
  const running = await healthyEnvironment();
  if (running) return { env: running, started: false };
  const began = Date.now();
  console.error(
    'testenv: starting etcd, kube-apiserver, controller-manager, scheduler, kwok, FerretDB, RabbitMQ',
  );
  const env = await startEnvironment();
  console.error(`testenv: up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return { env, started: true };
}

function run(command: string[], env: TestEnv): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...args] = command;
    if (!cmd) throw new Error('exec needs a command after --');
    const child = spawn(cmd, args, {
      stdio: 'inherit',
      env: { ...process.env, ...envVars(env, currentEnvFile()) },
    });
    // Ctrl-C reaches the child through the terminal; we only wait for it.
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'up': {
      const { env, started } = await up();
      console.log(`${started ? 'started' : 'already running'}\n${describe(env)}`);
      return 0;
    }
    case 'down':
      console.log((await stopRecordedEnvironment()) ? 'stopped' : 'no environment was running');
      return 0;
    case 'status': {
      const env = readEnvFile(currentEnvFile());
      if (!env) {
        console.log('no environment is running');
        return 1;
      }
      if (!isComplete(env)) {
        console.log('unhealthy: it never finished starting');
        return 1;
      }
      const problems = await checkEnvironment(env);
      console.log(
        problems.length === 0 ? `running\n${describe(env)}` : `unhealthy: ${problems.join('; ')}`,
      );
      return problems.length === 0 ? 0 : 1;
    }
    case 'exec': {
      const command = rest[0] === '--' ? rest.slice(1) : rest;
      const { env, started } = await up();
      console.error(
        `testenv: ${started ? 'started for this run' : 'reusing the running environment'}\n${describe(env)}`,
      );
      try {
        return await run(command, env);
      } finally {
        if (started) await stopRecordedEnvironment();
      }
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`testenv: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
