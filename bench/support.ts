// What benchmarks share: medians, free ports, polling, and TypeScript entry points run
// as child processes (own event loop, own memory) that are always stopped again —
// SIGTERM, then SIGKILL — also when the benchmark fails or is interrupted.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GcTotals } from './gc-stats.js';
import { SERVICE_NODE_FLAGS } from '@gorten/kit/node-flags';

export const ROOT = join(import.meta.dirname, '..');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

export async function waitUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/** CPU seconds (user + system) of a /proc/…/stat line. */
function statCpuSeconds(stat: string): number {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far, all its threads; Linux only. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * CPU seconds a Node process's threads have used so far, by thread name: `MainThread` (the
 * JavaScript, and the GC's pauses), `V8Worker` (V8's helpers: concurrent marking, parallel
 * scavenges, compilation), `libuv-worker` (the thread pool)… A CPU profile (`--cpu-prof`)
 * sees the main thread only. Threads that ended since are not counted.
 */
export function cpuSecondsByThread(pid: number): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const seconds = statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      byName[name] = (byName[name] ?? 0) + seconds;
    } catch {
      // the thread ended while being read
    }
  }
  return byName;
}

/** The most resident memory a process has had (VmHWM), in MiB; Linux only. */
export function peakRssMiB(pid: number): number {
  const kiB = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kiB) / 1024;
}

let cpuProfileDir: string | undefined;

/**
 * From now on every child writes a V8 CPU profile (`node --cpu-prof`) into `dir` when it
 * exits; profile-summary.ts sums one up.
 */
export function profileChildrenInto(dir: string): void {
  cpuProfileDir = dir;
}

const children = new Set<ChildProcess>();
const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

export interface HttpChild {
  name: string;
  url: string;
  process: ChildProcess;
  pid: number;
}

/** Node's own flags from a space-separated variable's value (V8's heap sizing, say). */
export function nodeFlagsOf(value: string | undefined): string[] {
  return (value ?? '').split(' ').filter((flag) => flag !== '');
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  stdio: StdioOptions;
  /** Node's own flags, before everything else on its command line. */
  nodeFlags?: readonly string[];
  /** More modules (relative to the repository) to `--import` first, after tsx. */
  preload?: readonly string[];
}

/**
 * Runs `script` (relative to the repository) with `node --import tsx`, tracked: stopped by
 * `stopAllChildren`, and killed if the benchmark exits first. `name`, unique in the run,
 * names its CPU profile (`profileChildrenInto`).
 */
export function spawnTsChild(name: string, script: string, options: ChildOptions): ChildProcess {
  const profile = cpuProfileDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${cpuProfileDir}`,
        `--cpu-prof-name=${name.replace(/[^A-Za-z0-9]+/g, '-')}.cpuprofile`,
      ]
    : [];
  const imports = (options.preload ?? []).flatMap((module) => [
    '--import',
    pathToFileURL(join(ROOT, module)).href,
  ]);
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), ...profile, '--import', 'tsx', ...imports, join(ROOT, script)],
    { cwd: ROOT, stdio: options.stdio, env: { ...process.env, ...options.env } },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Runs `script` (relative to the repository) with `node --import tsx` on a free port
 * (HTTP_PORT), its stdout appended to `logFile`, and waits until GET `readyPath` is 200.
 * `preload`: more modules (relative to the repository) to `--import` first, after tsx.
 */
export async function startHttpChild(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyPath = '/readyz',
  preload: readonly string[] = [],
): Promise<HttpChild> {
  const port = await freePort();
  const log = openSync(logFile, 'a');
  // Node's own flags (V8's heap sizing, say, which NODE_OPTIONS does not take): a
  // service's, as its image starts it, unless GORTEN_BENCH_NODE_FLAGS says otherwise, for
  // one child in `env` or for every service child in the benchmark's own environment
  // ('' for none).
  const override = env.GORTEN_BENCH_NODE_FLAGS ?? process.env.GORTEN_BENCH_NODE_FLAGS;
  const child = spawnTsChild(`${name}-${String(port)}`, script, {
    env: { ...env, HTTP_PORT: String(port) },
    stdio: ['ignore', log, 'inherit'],
    nodeFlags: override === undefined ? SERVICE_NODE_FLAGS : nodeFlagsOf(override),
    preload,
  });
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`${name} ready`, 60_000, async () => {
    if (exited(child))
      throw new Error(`${name} exited (${String(child.exitCode ?? child.signalCode)})`);
    try {
      const answer = await fetch(`${url}${readyPath}`);
      await answer.arrayBuffer();
      return answer.ok;
    } catch {
      return false; // not listening yet
    }
  });
  return { name, url, process: child, pid: child.pid ?? NaN };
}

export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (exited(child)) return;
  const done = once(child, 'exit');
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(kill);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

// Last resort when the benchmark dies without cleaning up: nothing may outlive it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** The last GC totals read from each file: the next read waits for newer ones. */
const gcSequences = new Map<string, number>();

/**
 * The GC totals of a child started with bench/gc-stats.ts writing to `file`, now: asks for
 * them (SIGUSR2) and waits until the file is newer than what was last read from it.
 */
export async function gcTotalsOf(child: HttpChild, file: string): Promise<GcTotals> {
  const after = gcSequences.get(file) ?? 0;
  child.process.kill('SIGUSR2');
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      const totals = JSON.parse(readFileSync(file, 'utf8')) as GcTotals;
      if (totals.sequence > after) {
        gcSequences.set(file, totals.sequence);
        return totals;
      }
    } catch {
      // not written yet, or being written
    }
    if (Date.now() > deadline) throw new Error(`${child.name}: no GC totals in ${file}`);
    await sleep(20);
  }
}
