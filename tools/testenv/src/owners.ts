// Who stops what. Every process the tooling starts (a server, a service of npm start, a
// process a test spawns) carries GORTEN_OWNED_BY in its environment: the owners that must
// stop it. Its own children inherit the stamp. An owner — `npm test`'s run, one
// `npm start` home, a CI run — sweeps by scanning /proc for processes that name it, so
// nothing is missed: not a process whose starter was killed a moment after spawning it,
// not a grandchild. Owners nest: GORTEN_OWNERS lists the owners of whatever a process
// starts, and a process that is itself an owner puts its own name in front.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, processStart, signalGroup } from './pids.js';

/** The owners of whatever this process starts. */
export const OWNERS = 'GORTEN_OWNERS';
/** Stamped on each started process: the owners that must stop it. */
const OWNED_BY = 'GORTEN_OWNED_BY';
/** Stamped on each started process: what to call it in a message. */
const PROCESS_NAME = 'GORTEN_PROCESS_NAME';

const SEPARATOR = ' ';

function parseOwners(value: string | undefined): string[] {
  return (value ?? '').split(SEPARATOR).filter(Boolean);
}

/** The owners of whatever this process starts, nearest first. */
export function ownersOf(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseOwners(env[OWNERS]);
}

/** GORTEN_OWNERS with `owner` in front of those inherited. */
export function withOwner(owner: string, env: NodeJS.ProcessEnv = process.env): string {
  if (owner.includes(SEPARATOR)) throw new Error(`an owner's name has no spaces: "${owner}"`);
  return [owner, ...parseOwners(env[OWNERS]).filter((o) => o !== owner)].join(SEPARATOR);
}

/** The environment for a child of this process: `env`, stamped with this process's owners. */
export function ownedEnv(name: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const owners = process.env[OWNERS];
  if (!owners) return env;
  return { ...env, [OWNERS]: owners, [OWNED_BY]: owners, [PROCESS_NAME]: name };
}

export interface Owned {
  name: string;
  pid: number;
  /** processStart(pid) when it was found: a pid reused meanwhile is never signalled. */
  start: number;
}

function environmentOf(pid: number): Map<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return new Map(
      raw
        .split('\0')
        .filter((entry) => entry.startsWith('GORTEN_'))
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Every running process stamped as owned by an owner that `wanted` accepts. */
function scan(wanted: (owner: string) => boolean): (Owned & { owners: string[] })[] {
  const found: (Owned & { owners: string[] })[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const env = environmentOf(pid);
    const owners = parseOwners(env?.get(OWNED_BY));
    const start = processStart(pid);
    if (!owners.some(wanted) || start === undefined || !isAlive(pid)) continue;
    found.push({ name: env?.get(PROCESS_NAME) ?? `pid ${pid}`, pid, start, owners });
  }
  return found;
}

/** The processes `owner` must stop that still run. */
export function ownedBy(owner: string): Owned[] {
  return scan((o) => o === owner).map(({ name, pid, start }) => ({ name, pid, start }));
}

const stillRunning = (p: Owned): boolean => isAlive(p.pid) && processStart(p.pid) === p.start;

function signal(p: Owned, sig: NodeJS.Signals): void {
  if (!stillRunning(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // gone meanwhile
  }
  signalGroup(p.pid, sig); // a group it leads goes too (no-op when it leads none)
}

/**
 * Stops every process `owner` must stop (SIGTERM, SIGKILL after `graceMs`) and returns
 * those that were still running.
 */
export async function sweepOwner(owner: string, graceMs = 5_000): Promise<Owned[]> {
  const found = ownedBy(owner);
  for (const p of found) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (found.some(stillRunning) && Date.now() < deadline) await sleep(100);
  for (const p of found) signal(p, 'SIGKILL');
  while (found.some(stillRunning)) await sleep(50);
  return found;
}

/** Every owner named by a running process that `isGone` says has ended. */
export function abandonedOwners(isGone: (owner: string) => boolean): string[] {
  return [...new Set(scan(isGone).flatMap((p) => p.owners.filter(isGone)))];
}

export function describeOwned(processes: Owned[]): string {
  const counts = new Map<string, number[]>();
  for (const p of processes) counts.set(p.name, [...(counts.get(p.name) ?? []), p.pid]);
  return [...counts].map(([name, pids]) => `${name} (pid ${pids.join(', ')})`).join(', ');
}
