// What Linux says about a process (/proc), and signals to a process group.
import { readdirSync, readFileSync } from 'node:fs';

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return statFields(pid)?.[0] !== 'Z';
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * When the kernel started a process (clock ticks since boot, field 22 of /proc/<pid>/stat):
 * with the pid it names one process for good, even once the pid is reused.
 */
export function processStart(pid: number): number | undefined {
  const field = statFields(pid)?.[19];
  return field === undefined ? undefined : Number(field);
}

/** The command line of a running process, so a recycled pid is never mistaken for ours. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Every process in the process groups led by `leaders` (the leaders included). */
export function groupMembers(leaders: number[]): number[] {
  const wanted = new Set(leaders.map(String));
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      const group = statFields(Number(entry))?.[2];
      return group !== undefined && wanted.has(group);
    })
    .map(Number);
}
