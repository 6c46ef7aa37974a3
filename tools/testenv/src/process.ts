// Starting, watching and stopping the server processes of a test environment.
// Every server runs in its own process group so that stopping it also stops whatever
// it spawned (RabbitMQ's Erlang VM, for instance), leaving no orphans behind.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownedEnv } from './owners.js';
import { isAlive, signalGroup } from './pids.js';

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Starts a server detached from this process; its output goes to `logFile`. */
export function startServer(opts: StartOptions): number {
  const log = openSync(opts.logFile, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: ownedEnv(opts.name, opts.env ?? process.env),
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
    });
    if (child.pid === undefined) {
      throw new Error(`${opts.name}: could not start ${opts.command} (see ${opts.logFile})`);
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** SIGTERM to the whole group, SIGKILL after `graceMs`. Resolves when the leader is gone. */
export async function stopServer(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/** A server could not bind a port that was free when it was chosen: start it on new ones. */
export class PortInUseError extends StartupError {
  override name = 'PortInUseError';
  constructor(
    readonly what: string,
    /** The server's own words for it, from its log. */
    readonly logLine: string,
    message: string,
  ) {
    super(message);
  }
}

/** How the servers started here say that a port is taken (Go, Erlang, epmd). */
const PORT_IN_USE = /address already in use|eaddrinuse/i;

export interface WaitOptions {
  /** What is awaited, for the error message: "kube-apiserver /readyz". */
  what: string;
  timeoutMs: number;
  /** The server's pid: waiting stops at once when it exits. */
  pid?: number;
  logFile?: string;
  /** How to fix it, appended to the error. */
  hint?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined. Fails with the last
 * probe error and the tail of the server's log when the server dies or time runs out.
 */
export async function eventually<T>(
  opts: WaitOptions,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = 'no answer yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    const died = opts.pid !== undefined && !isAlive(opts.pid);
    if (died || Date.now() > deadline) {
      const why = died ? 'the process exited' : `no success within ${opts.timeoutMs / 1000} s`;
      const tail = opts.logFile ? logTail(opts.logFile) : '';
      const log = opts.logFile ? `\n--- ${opts.logFile} (tail) ---\n${tail}` : '';
      const hint = opts.hint ? `\nHow to fix: ${opts.hint}` : '';
      const message = `${opts.what}: ${why} (last error: ${lastError})${hint}${log}`;
      const clash = tail.split('\n').find((line) => PORT_IN_USE.test(line));
      throw clash === undefined
        ? new StartupError(message)
        : new PortInUseError(opts.what, clash.trim().slice(0, 300), message);
    }
    await sleep(200);
  }
}
