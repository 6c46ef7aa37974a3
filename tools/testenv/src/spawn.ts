// Processes a test starts: each leads its own process group (so a stop reaches whatever it
// spawns too) and is written in the run's ledger, which Jest's global teardown sweeps.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { LEDGER_VARIABLE, recordInLedgers } from './ledger.js';
import { signalGroup } from './pids.js';

/** `spawn` in a process group of its own, written in GORTEN_LEDGER's ledgers and passing it on. */
export function spawnTracked(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const env = { ...(options.env ?? process.env) };
  const ledger = process.env[LEDGER_VARIABLE];
  if (ledger) env[LEDGER_VARIABLE] = ledger;
  const child = spawn(command, args, { ...options, detached: true, env });
  if (child.pid !== undefined) recordInLedgers(name, child.pid);
  return child;
}

/** SIGKILL to the child's whole group; resolves once the child is gone. */
export async function killTracked(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signalGroup(child.pid, 'SIGKILL');
  await exited;
}
