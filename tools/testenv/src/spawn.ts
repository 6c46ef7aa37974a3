// Processes a test starts: each leads its own process group (so a stop reaches whatever it
// spawns too) and is stamped as owned by the test run, which Jest's global teardown sweeps.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { ownedEnv } from './owners.js';
import { signalGroup } from './pids.js';

/** `spawn` in a process group of its own, owned by this process's owners (owners.ts). */
export function spawnTracked(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const env = ownedEnv(name, options.env ?? process.env);
  return spawn(command, args, { ...options, detached: true, env });
}

/** SIGKILL to the child's whole group; resolves once the child is gone. */
export async function killTracked(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signalGroup(child.pid, 'SIGKILL');
  await exited;
}
