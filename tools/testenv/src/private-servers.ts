// Servers of a test's own (a private cluster, data plane or Jaeger), beside the shared
// environment: a temporary folder for their data and logs, the record of every process
// started in it, and one stop that ends each (last started first, skipping a pid that is
// no longer the one recorded) and removes the folder. Every private starter builds on it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries, goServerVersions } from './binaries.js';
import { processStart } from './pids.js';
import { stopServer } from './process.js';
import type { StartContext } from './servers/context.js';
import type { ServerProcess } from './state.js';

export interface PrivateServers {
  ctx: StartContext;
  logDir: string;
  /** Every server process started, in order (a restart adds one). */
  readonly processes: readonly ServerProcess[];
  /**
   * Stops every process still its own and removes the folder; idempotent. `beforeStop`
   * runs on each pid first (a paused server is resumed, or it would not stop).
   */
  stop: (beforeStop?: (pid: number) => void) => Promise<void>;
}

/** `binaries`: the cached builds to make sure of first (default: every server). */
export function privateServers(prefix: string, binaries?: readonly string[]): PrivateServers {
  const dir = mkdtempSync(join(tmpdir(), `gorten-${prefix}-`));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const processes: ServerProcess[] = [];
  const ctx: StartContext = {
    dataDir: dir,
    persistent: false,
    logDir,
    binary: ensureBinaries(goServerVersions(), binaries),
    record: (proc) => processes.push({ ...proc, start: processStart(proc.pid) }),
  };
  let stopped: Promise<void> | undefined;
  const stop = (beforeStop?: (pid: number) => void): Promise<void> => {
    stopped ??= (async () => {
      for (const proc of [...processes].reverse()) {
        if (processStart(proc.pid) !== proc.start) continue;
        beforeStop?.(proc.pid);
        await stopServer(proc.pid);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { ctx, logDir, processes, stop };
}
