// The child processes npm start runs (the operator, the tenant's services): each logs to
// its own file, and all are stopped together, gently first.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@gorten/testenv';

export interface Child {
  name: string;
  process: ChildProcess;
  logFile: string;
}

export class Children {
  private readonly running: Child[] = [];
  private stopped = false;

  constructor(
    private readonly repoRoot: string,
    private readonly logDir: string,
  ) {}

  /** Runs a TypeScript entry point (through tsx) with exactly `env` plus PATH. */
  startTypeScript(name: string, entry: string, env: Record<string, string>): Child {
    if (this.stopped) throw new Error(`not starting ${name}: stopping`);
    const logFile = join(this.logDir, `${name}.log`);
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: this.repoRoot,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', ...env },
      stdio: ['ignore', log, log],
    });
    const started = { name, process: child, logFile };
    this.running.push(started);
    return started;
  }

  /** Waits for `url` to answer 200, failing early (with the log's name) if the child dies. */
  async waitReady(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
    await eventually({ what: `${child.name} at ${url}`, timeoutMs }, async () => {
      if (child.process.exitCode !== null)
        throw new Error(
          `${child.name} exited with ${child.process.exitCode}; see ${child.logFile}`,
        );
      const answer = await fetch(url).catch(() => undefined);
      return answer?.status === 200 ? true : undefined;
    });
  }

  /** SIGTERM to all, newest first; SIGKILL for any still running after `graceMs`. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopped = true;
    const children = this.running.splice(0).reverse();
    await Promise.all(children.map((c) => stop(c.process, graceMs)));
  }
}

function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
