// The services the chaos suite kills: each a real process (`node services/<name>/src/main.ts`)
// on a port of its own that it keeps across restarts, so clients find it again. Logs go
// to files beside the data plane's, for reading after a failing run.
import { type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import {
  eventually,
  freePort,
  killTracked,
  repoRoot,
  signalGroup,
  spawnTracked,
} from '@gorten/testenv';

export class ServiceProcess {
  private child: ChildProcess | undefined;
  private starts = 0;

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  static async start(
    name: string,
    env: NodeJS.ProcessEnv,
    logDir: string,
  ): Promise<ServiceProcess> {
    const service = new ServiceProcess(name, await freePort(), env, logDir);
    await service.start();
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) and waits until it answers /healthz. */
  async start(): Promise<void> {
    const log = openSync(join(this.logDir, `${this.name}.${++this.starts}.log`), 'w');
    try {
      this.child = spawnTracked(
        this.name,
        process.execPath,
        ['--import', 'tsx', `services/${this.name}/src/main.ts`],
        {
          cwd: repoRoot,
          env: { PATH: process.env.PATH, ...this.env, HTTP_PORT: String(this.port) },
          stdio: ['ignore', log, log],
        },
      );
    } finally {
      closeSync(log);
    }
    const child = this.child;
    await eventually({ what: `${this.name} /healthz`, timeoutMs: 60_000 }, async () => {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}`);
      const answer = await fetch(`${this.url}/healthz`).catch(() => undefined);
      return answer?.status === 200 ? true : undefined;
    });
  }

  /** SIGKILL: no shutdown hook runs, as when a node dies. */
  async kill(): Promise<void> {
    if (this.child) await killTracked(this.child);
  }

  /** A gentle stop (SIGTERM, then SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    signalGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => void killTracked(child), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
