// What `npm start` checks before it starts anything, so a machine that lacks something
// gets one message saying what to do instead of a failure halfway through.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { nodeProblem } from '@gorten/testenv';

/** A problem the user can fix; the message says how. */
export class StartRefused extends Error {
  override name = 'StartRefused';
}

/** package.json's engines.node, or the line that puts the pinned Node.js on PATH. */
export function checkNode(version?: string, floor?: string): void {
  const problem = nodeProblem(version, floor);
  if (problem !== undefined) throw new StartRefused(problem);
}

/** Resolves when nothing listens on 127.0.0.1:port; otherwise says who to stop. */
export function checkPortFree(port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new StartRefused(
          err.code === 'EADDRINUSE'
            ? `Port ${port} is in use. Stop what listens there, or pick another port: ${setting}=<port> npm start`
            : `Cannot listen on port ${port} (${err.code ?? err.message}); pick another: ${setting}=<port> npm start`,
        ),
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const PROMETHEUS = '/usr/bin/prometheus';

/**
 * The system packages the local stack runs on. Go only matters while the servers are
 * not built yet; RabbitMQ and Prometheus always do (they come from Debian, not from a build).
 */
export function checkSystemPackages(serversBuilt: boolean): void {
  const missing: string[] = [];
  if (!existsSync(RABBITMQ_SERVER))
    missing.push('rabbitmq-server (Debian: apt-get install rabbitmq-server)');
  if (!existsSync(PROMETHEUS))
    missing.push('prometheus (Debian: apt-get install --no-install-recommends prometheus)');
  if (!serversBuilt && !commandExists('go'))
    missing.push(
      'Go >= 1.26 (it builds etcd, kube-apiserver, kwok and FerretDB once; https://go.dev/dl)',
    );
  if (missing.length > 0)
    throw new StartRefused(
      `This machine lacks what npm start needs:\n  - ${missing.join('\n  - ')}`,
    );
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The pid in a pid file, when that process still runs. */
export function runningPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
