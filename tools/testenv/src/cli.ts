// npm run testenv -- up | down | status | sweep <owner> | exec -- <command...>
import { spawn } from 'node:child_process';
import {
  checkEnvironment,
  startEnvironment,
  stopRecordedEnvironment,
  withStartLock,
} from './environment.js';
import { currentEnvFile, envVars, isComplete, readEnvFile, type TestEnv } from './state.js';
import { abandonedOwners, describeOwned, OWNERS, sweepOwner, withOwner } from './owners.js';
import { isAlive, processStart } from './pids.js';
import { nodeProblem } from './node-runtime.js';

const USAGE = `usage: npm run testenv -- <command>
  up                 start the servers (reuses a healthy running environment)
  down               stop the servers and delete their data
  status             tell whether an environment is running and healthy
  sweep <owner>      stop every process owned by <owner> (see owners.ts)
  exec -- cmd [arg]  run cmd against a running environment, or start one for it and stop it
                     after; fails when a process cmd started is still alive at its end`;

function describe(env: TestEnv): string {
  const versions = Object.entries(env.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `servers: ${versions}`,
    `KUBECONFIG=${env.kube.kubeconfig}  (kube-apiserver ${env.kube.server})`,
    `MongoDB wire (FerretDB): ${env.mongo.url.replace(/:[^:@/]+@/, ':***@')}`,
    `RabbitMQ: ${env.rabbitmq.amqpUrl.replace(/:[^:@/]+@/, ':***@')}, management ${env.rabbitmq.managementUrl}, Prometheus ${env.rabbitmq.prometheusUrl}`,
    `Redis: ${env.redis.address} (admin: user default)`,
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
    'testenv: starting etcd, kube-apiserver, controller-manager, scheduler, kwok, FerretDB, RabbitMQ, Redis',
  );
  const env = await startEnvironment();
  console.error(`testenv: up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  return { env, started: true };
}

/** One run of `exec` owns what its command starts: `exec:<pid>:<start>` names it for good. */
const EXEC_OWNER = /^exec:(\d+):(\d+)$/;

function isGoneExec(owner: string): boolean {
  const [, pid, start] = EXEC_OWNER.exec(owner) ?? [];
  if (pid === undefined) return false;
  return !isAlive(Number(pid)) || processStart(Number(pid)) !== Number(start);
}

/** Stops what runs of `exec` that were killed left behind. */
async function sweepAbandonedRuns(): Promise<void> {
  for (const owner of abandonedOwners(isGoneExec)) {
    const left = await sweepOwner(owner);
    if (left.length > 0)
      console.error(`testenv: stopped what a killed run left running: ${describeOwned(left)}`);
  }
}

const GRACE_MS = 30_000;

function run(command: string[], env: TestEnv, owner: string): Promise<number> {
  return new Promise((resolve) => {
    const [cmd, ...args] = command;
    if (!cmd) throw new Error('exec needs a command after --');
    const child = spawn(cmd, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        ...envVars(env, currentEnvFile()),
        [OWNERS]: withOwner(owner),
      },
    });
    // Ctrl-C reaches the child through the terminal; we only wait for it. SIGTERM is
    // passed on, and SIGKILL follows when the child does not end within the grace time.
    const ignore = (): void => undefined;
    const terminate = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), GRACE_MS).unref();
    };
    process.on('SIGINT', ignore);
    process.on('SIGTERM', terminate);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', terminate);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Runs the command, then stops and names whatever it started that is still alive. */
async function runAndSweep(command: string[], env: TestEnv): Promise<number> {
  const owner = `exec:${process.pid}:${processStart(process.pid) ?? 0}`;
  const code = await run(command, env, owner);
  const left = await sweepOwner(owner);
  if (left.length === 0) return code;
  console.error(
    `testenv: FAILED: still running after \`${command.join(' ')}\` ended, now stopped: ${describeOwned(left)}`,
  );
  return code === 0 ? 1 : code;
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
    case 'sweep': {
      const [owner] = rest;
      if (!owner) {
        console.error(USAGE);
        return 2;
      }
      const left = await sweepOwner(owner);
      console.log(left.length > 0 ? `stopped ${describeOwned(left)}` : 'nothing was running');
      return 0;
    }
    case 'exec': {
      // The tests, the operator and the benchmarks run on the Node.js that ships.
      const problem = nodeProblem();
      if (problem !== undefined) {
        console.error(`testenv: ${problem}`);
        return 1;
      }
      const command = rest[0] === '--' ? rest.slice(1) : rest;
      await sweepAbandonedRuns();
      const { env, started } = await up();
      console.error(
        `testenv: ${started ? 'started for this run' : 'reusing the running environment'}\n${describe(env)}`,
      );
      try {
        return await runAndSweep(command, env);
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
