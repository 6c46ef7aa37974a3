// The ledger: every process group the tooling starts (a server, a service of npm start, a
// process a test spawns) is written down in each folder GORTEN_LEDGER names, so whoever
// owns a folder can find and stop what is left — after a test timed out, after a parent
// was killed, or at the end of `npm test`, which fails naming anything still alive.
// GORTEN_LEDGER is a list, like PATH: nested owners (CI, the test run, one npm start)
// each keep their own folder and see everything started below them.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, processStart, signalGroup } from './pids.js';

export interface LedgerEntry {
  name: string;
  pid: number;
  /** processStart(pid) when it was written: a reused pid never matches. */
  start: number;
  /** Whether `pid` leads its own process group (then the whole group is signalled). */
  group: boolean;
}

export const LEDGER_VARIABLE = 'GORTEN_LEDGER';

export function ledgerFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[LEDGER_VARIABLE] ?? '').split(delimiter).filter(Boolean);
}

/** The value of GORTEN_LEDGER with `folder` added in front of what is inherited. */
export function withLedger(folder: string, env: NodeJS.ProcessEnv = process.env): string {
  return [folder, ...ledgerFolders(env).filter((f) => f !== folder)].join(delimiter);
}

/** Writes a started process into every ledger folder in GORTEN_LEDGER (and `extra`). */
export function recordInLedgers(
  name: string,
  pid: number,
  options: { group?: boolean; extra?: string[] } = {},
): void {
  const start = processStart(pid);
  if (start === undefined) return; // already gone: nothing to stop later
  const entry: LedgerEntry = { name, pid, start, group: options.group ?? true };
  const line = `${JSON.stringify(entry)}\n`;
  for (const folder of new Set([...ledgerFolders(), ...(options.extra ?? [])])) {
    mkdirSync(folder, { recursive: true });
    // One file per writer: appends of whole lines never interleave with another writer's.
    appendFileSync(join(folder, `${process.pid}.jsonl`), line);
  }
}

function entriesOf(folder: string): LedgerEntry[] {
  let files: string[];
  try {
    files = readdirSync(folder).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return [];
  }
  return files.flatMap((file) => {
    try {
      return readFileSync(join(folder, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LedgerEntry);
    } catch {
      return [];
    }
  });
}

function stillRunning(entry: LedgerEntry): boolean {
  return isAlive(entry.pid) && processStart(entry.pid) === entry.start;
}

/** The processes written in `folder` that still run. */
export function aliveInLedger(folder: string): LedgerEntry[] {
  return entriesOf(folder).filter(stillRunning);
}

function signal(entry: LedgerEntry, sig: NodeJS.Signals): void {
  if (!stillRunning(entry)) return;
  if (entry.group) signalGroup(entry.pid, sig);
  else {
    try {
      process.kill(entry.pid, sig);
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Stops everything written in `folder` that still runs (SIGTERM, SIGKILL after `graceMs`)
 * and empties the folder. Returns what was still running.
 */
export async function sweepLedger(folder: string, graceMs = 5_000): Promise<LedgerEntry[]> {
  const alive = aliveInLedger(folder);
  for (const entry of alive) signal(entry, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.some(stillRunning) && Date.now() < deadline) await sleep(100);
  for (const entry of alive) signal(entry, 'SIGKILL');
  while (alive.some(stillRunning)) await sleep(50);
  rmSync(folder, { recursive: true, force: true });
  return alive;
}

/** SIGKILL at once, synchronously: for `process.on('exit')`, where nothing can be awaited. */
export function killLedgerNow(folder: string): void {
  for (const entry of aliveInLedger(folder)) signal(entry, 'SIGKILL');
}

export function describeEntries(entries: LedgerEntry[]): string {
  return entries.map((e) => `${e.name} (pid ${e.pid})`).join(', ');
}
