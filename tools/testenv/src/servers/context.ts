import type { ServerProcess } from '../state.js';

/** What every server starter gets: where to put data and logs, and how to record a pid. */
export interface StartContext {
  /** Data folder of this environment: temporary, or kept across starts (`npm start`). */
  dataDir: string;
  /** The data outlives this run: a server started again must find its own data usable. */
  persistent: boolean;
  logDir: string;
  /** Path of a cached binary built by build-servers.sh. */
  binary(name: string): string;
  /** Persists a started process at once, so a half-started run can be cleaned up. */
  record(proc: ServerProcess): void;
  /** How ports are chosen (default: ports.freePorts); a test hands out a taken one. */
  choosePorts?: <K extends string>(names: readonly K[]) => Promise<Record<K, number>>;
}
