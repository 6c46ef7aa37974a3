// The child processes npm start runs (the operator, the tenant's services): each logs to
// its own file, leads its own process group (Ctrl-C in the terminal reaches npm start
// alone, which stops them in order), is owned by this start (owners.ts in testenv), and
// binds port 0 on loopback and reports the port it got in its log. All are stopped together, gently first.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, ownedEnv, signalGroup } from '@gorten/testenv';

export interface Child {
  name: string;
  process: ChildProcess;
  logFile: string;
}

/** The port in a log's first `listening` line (pino JSON, as the kit and the operator write). */
export function reportedPort(log: string): number | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
      if (entry.msg === 'listening' && typeof entry.port === 'number') return entry.port;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

export class Children {
  private readonly running: Child[] = [];
  private stopped = false;

  constructor(
    private readonly repoRoot: string,
    private readonly logDir: string,
  ) {}

  /**
   * Runs a TypeScript entry point (through tsx) with exactly `env` plus PATH, and
   * `nodeFlags` before it (a service's, as its image gives them).
   */
  startTypeScript(
    name: string,
    entry: string,
    env: Record<string, string>,
    nodeFlags: readonly string[] = [],
  ): Child {
    if (this.stopped) throw new Error(`not starting ${name}: stopping`);
    const logFile = join(this.logDir, `${name}.log`);
    const log = openSync(logFile, 'w');
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
      cwd: this.repoRoot,
      env: ownedEnv(name, { PATH: process.env.PATH ?? '', NODE_ENV: 'development', ...env }),
      stdio: ['ignore', log, log],
      detached: true,
    });
    const started = { name, process: child, logFile };
    this.running.push(started);
    return started;
  }

  /**
   * Waits for the child to report the port it listens on and for `path` there to answer
   * 200; fails early (with the log's name) if the child dies. Returns the port.
   */
  async waitReady(child: Child, path: string, timeoutMs = 60_000): Promise<number> {
    return eventually({ what: `${child.name} ${path}`, timeoutMs }, async () => {
      if (child.process.exitCode !== null)
        throw new Error(
          `${child.name} exited with ${child.process.exitCode}; see ${child.logFile}`,
        );
      const port = reportedPort(readFileSync(child.logFile, 'utf8'));
      if (port === undefined) return undefined;
      const answer = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
      return answer?.status === 200 ? port : undefined;
    });
  }

  /** SIGTERM to all groups, newest first; SIGKILL for any still running after `graceMs`. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopped = true;
    const children = this.running.splice(0).reverse();
    await Promise.all(children.map((c) => stop(c.process, graceMs)));
  }
}

function stop(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      // Whatever the child left in its group goes with it.
      signalGroup(pid, 'SIGKILL');
      resolve();
    });
    signalGroup(pid, 'SIGTERM');
  });
}
