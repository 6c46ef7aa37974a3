import type { ServerProcess } from '../state.js';

/** What every server starter gets: where to put data and logs, and how to record a pid. */
export interface StartContext {
  /** Temporary data folder of this environment. */
  dataDir: string;
  logDir: string;
  /** Path of a cached binary built by build-servers.sh. */
  binary(name: string): string;
  /** Persists a started process at once, so a half-started run can be cleaned up. */
  record(proc: ServerProcess): void;
}
