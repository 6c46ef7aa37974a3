// The tooling's processes on a busy machine: every server binds loopback only; a server
// whose port was taken meanwhile starts again on new ports; an owner's sweep finds and
// stops everything it started and nothing else; `exec` fails naming what its command left
// running; an `up` killed halfway is cleaned up by the next one.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries, goServerVersions } from '../src/binaries.js';
import { OWNERS, ownedBy, sweepOwner, withOwner } from '../src/owners.js';
import { groupMembers, isAlive } from '../src/pids.js';
import { freePort, freePorts } from '../src/ports.js';
import { stopServer, eventually } from '../src/process.js';
import { startRabbitMq } from '../src/servers/rabbitmq.js';
import type { StartContext } from '../src/servers/context.js';
import { isLoopback, listenersOf } from '../src/sockets.js';
import { spawnTracked } from '../src/spawn.js';
import { loadTestEnv, repoRoot, type ServerProcess } from '../src/state.js';

const CLI = join(repoRoot, 'tools', 'testenv', 'src', 'cli.ts');
const temporary: string[] = [];
const children: ChildProcess[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711); // RabbitMQ's own user passes through
  temporary.push(dir);
  return dir;
}

/** Runs the testenv CLI; resolves with its exit code and output. */
function cli(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  let output = '';
  const child = spawnTracked('testenv cli', process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
  return { child, done };
}

/** `testenv exec` of a Node script (ESM, through tsx) given as its lines. */
function execScript(lines: string[]): ReturnType<typeof cli> {
  const script = lines.join('\n');
  return cli([
    'exec',
    '--',
    process.execPath,
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    script,
  ]);
}

afterAll(() => {
  for (const child of children) if (child.pid && isAlive(child.pid)) child.kill('SIGKILL');
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

test('every server of the test environment listens on loopback only', () => {
  const env = loadTestEnv();
  const listeners = listenersOf(groupMembers(env.processes.map((p) => p.pid)));
  // etcd 2, apiserver, controller-manager, scheduler, kwok, FerretDB, epmd, RabbitMQ 3.
  expect(listeners.length).toBeGreaterThanOrEqual(11);
  expect(listeners.filter((l) => !isLoopback(l.address))).toEqual([]);
  const management = Number(new URL(env.rabbitmq.managementUrl).port);
  expect(listeners.some((l) => l.port === management && l.address === '127.0.0.1')).toBe(true);
});

describe('a server whose port is taken between choice and bind', () => {
  let blocker: Server;
  const started: ServerProcess[] = [];
  afterAll(async () => {
    for (const proc of started.reverse()) await stopServer(proc.pid);
    blocker.close();
  });

  test('RabbitMQ finds its management port taken and starts again on new ports', async () => {
    const taken = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    const choices: Record<string, number>[] = [];
    const ctx: StartContext = {
      dataDir: tempDir('gorten-ports-'),
      persistent: false,
      logDir: tempDir('gorten-ports-logs-'),
      binary: ensureBinaries(goServerVersions()),
      record: (proc) => started.push(proc),
      async choosePorts(names) {
        const ports = await freePorts(names);
        // The first attempt gets the taken port for the management listener.
        if (choices.length === 0) (ports as Record<string, number>).management = taken;
        choices.push(ports);
        return ports;
      },
    };
    const rabbit = await startRabbitMq(ctx);
    expect(choices).toHaveLength(2);
    const management = Number(new URL(rabbit.managementUrl).port);
    expect(management).not.toBe(taken);
    expect(management).toBe(choices[1]?.management);
    // The first attempt's broker is gone; the second answers on loopback only.
    const [firstBroker, secondBroker] = started.filter((p) => p.name === 'rabbitmq');
    expect(isAlive(firstBroker?.pid ?? 0)).toBe(false);
    const listeners = listenersOf(groupMembers([secondBroker?.pid ?? 0]));
    expect(listeners.map((l) => l.port).sort()).toEqual(
      [choices[1]?.amqp, choices[1]?.dist, management, choices[1]?.prometheus].sort(),
    );
    expect(listeners.every((l) => l.address === '127.0.0.1')).toBe(true);
  });
});

describe('owners', () => {
  let saved: string | undefined;
  let owner: string;
  beforeEach(() => {
    saved = process.env[OWNERS];
    owner = `test-${randomBytes(4).toString('hex')}`;
    process.env[OWNERS] = withOwner(owner);
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.GORTEN_OWNERS;
    else process.env[OWNERS] = saved;
  });

  test('a sweep stops every process its owner started, grandchildren included, and no other', async () => {
    const owned = spawnTracked('two sleepers', 'sh', ['-c', 'sleep 300 & sleep 300 & wait'], {
      stdio: 'ignore',
    });
    const other = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(owned, other);
    const members = await eventually({ what: 'three processes owned', timeoutMs: 10_000 }, () => {
      const found = ownedBy(owner);
      return found.length === 3 ? found : undefined;
    });
    expect(members.map((p) => p.name)).toEqual(['two sleepers', 'two sleepers', 'two sleepers']);
    expect(groupMembers([owned.pid ?? 0]).sort()).toEqual(members.map((p) => p.pid).sort());
    const stopped = await sweepOwner(owner);
    expect(stopped.map((p) => p.pid).sort()).toEqual(members.map((p) => p.pid).sort());
    expect(members.filter((p) => isAlive(p.pid))).toEqual([]);
    expect(isAlive(other.pid ?? 0)).toBe(true);
  });

  test('a child is found even when its starter was killed the moment after spawning it', async () => {
    // The window a record written after spawn() leaves open: nothing is written here.
    const script = [
      "import { spawnTracked } from '@gorten/testenv';",
      "const child = spawnTracked('orphan', 'sleep', ['300'], { stdio: 'ignore' });",
      "process.kill(process.pid, 'SIGKILL');",
    ].join('\n');
    const starter = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      // This test's GORTEN_OWNERS: Jest gives each test file a copy of the environment.
      { cwd: repoRoot, env: process.env, stdio: 'ignore' },
    );
    children.push(starter);
    const [, signal] = (await once(starter, 'exit')) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    const orphans = await eventually({ what: 'the orphan', timeoutMs: 10_000 }, () => {
      const found = ownedBy(owner);
      return found.length === 1 ? found : undefined;
    });
    expect(orphans[0]?.name).toBe('orphan');
    expect(await sweepOwner(owner)).toHaveLength(1);
    expect(isAlive(orphans[0]?.pid ?? 0)).toBe(false);
  });
});

test('exec fails naming a process its command left running, and stops it', async () => {
  const script = [
    "import { spawnTracked } from '@gorten/testenv';",
    "const child = spawnTracked('forgotten sleeper', 'sleep', ['300'], { stdio: 'ignore' });",
    'console.log(`sleeper ${child.pid}`);',
    'child.unref();',
  ];
  const run = execScript(script);
  const { code, output } = await run.done;
  const pid = Number(/sleeper (\d+)/.exec(output)?.[1]);
  expect(pid).toBeGreaterThan(0);
  expect(code).toBe(1);
  expect(output).toContain(`FAILED: still running after`);
  expect(output).toContain(`forgotten sleeper (pid ${pid})`);
  expect(isAlive(pid)).toBe(false);
});

test('exec stopped with SIGTERM passes it on, then stops what its command started', async () => {
  const script = [
    "import { spawnTracked } from '@gorten/testenv';",
    "const child = spawnTracked('sleeper of a stopped run', 'sleep', ['300'], { stdio: 'ignore' });",
    'console.log(`sleeper ${child.pid}`);',
    'setInterval(() => undefined, 1_000);',
  ];
  const run = execScript(script);
  let output = '';
  run.child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  const pid = await eventually({ what: 'the sleeper started', timeoutMs: 60_000 }, () => {
    const found = /sleeper (\d+)/.exec(output)?.[1];
    return found === undefined ? undefined : Number(found);
  });
  run.child.kill('SIGTERM');
  const { code, output: all } = await run.done;
  expect(code).not.toBe(0);
  expect(all).toContain(`sleeper of a stopped run (pid ${pid})`);
  expect(isAlive(pid)).toBe(false);
});

test('an up killed halfway is cleaned up by the next up, which starts cleanly', async () => {
  const home = tempDir('gorten-testenv-home-');
  const env = { GORTEN_TESTENV_HOME: home };
  const first = cli(['up'], env);
  const record = join(home, 'current.json');
  const recorded = await eventually({ what: 'three servers recorded', timeoutMs: 60_000 }, () => {
    if (!existsSync(record)) return undefined;
    const processes = (JSON.parse(readFileSync(record, 'utf8')) as { processes: ServerProcess[] })
      .processes;
    return processes.length >= 3 ? processes : undefined;
  });
  first.child.kill('SIGKILL');
  await first.done;
  expect(recorded.filter((p) => isAlive(p.pid)).length).toBeGreaterThanOrEqual(3);

  const second = await cli(['up'], env).done;
  expect(second.output).toContain('cleaning up a stale environment');
  expect(second.code).toBe(0);
  expect(recorded.filter((p) => isAlive(p.pid))).toEqual([]);
  try {
    expect((await cli(['status'], env).done).code).toBe(0);
  } finally {
    expect((await cli(['down'], env).done).code).toBe(0);
  }
});
