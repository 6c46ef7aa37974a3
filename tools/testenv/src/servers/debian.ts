// Servers that come from Debian packages rather than from a build (RabbitMQ, Prometheus):
// installed with apt-get when they are missing and we are root, otherwise a message that
// says which command installs them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { StartupError } from '../process.js';

export function ensureDebianPackage(what: string, path: string, pkg: string): void {
  if (existsSync(path)) return;
  // No recommended extras: prometheus would pull in and start a node exporter.
  const command = `apt-get update && apt-get install -y --no-install-recommends ${pkg}`;
  if (process.getuid?.() !== 0) {
    throw new StartupError(
      `${what} is not installed (${path} is missing). Install it: sudo sh -c '${command}'`,
    );
  }
  console.error(`testenv: installing ${pkg} from Debian (apt-get)`);
  const result = spawnSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${command}`], {
    stdio: 'inherit',
  });
  if (result.status !== 0 || !existsSync(path)) {
    throw new StartupError(
      `Installing ${pkg} with apt-get failed (exit ${result.status}). Run '${command}' by hand and read its output.`,
    );
  }
}
