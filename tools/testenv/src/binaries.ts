// The Go-built servers, cached by version; build-servers.sh owns versions and recipes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { StartupError } from './process.js';

const SCRIPT = join(import.meta.dirname, '..', 'build-servers.sh');

export interface GoServerVersions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  ferretdb: string;
  kongCrds: string;
}

export function cacheDir(): string {
  return process.env.GORTEN_CACHE ?? join(homedir(), '.cache', 'gorten');
}

export function goServerVersions(): GoServerVersions {
  return JSON.parse(execFileSync('bash', [SCRIPT, 'versions']).toString()) as GoServerVersions;
}

function binaryNames(v: GoServerVersions): Record<string, string> {
  return {
    etcd: `etcd-${v.etcd}`,
    'kube-apiserver': `kube-apiserver-${v.kubernetes}`,
    'kube-controller-manager': `kube-controller-manager-${v.kubernetes}`,
    'kube-scheduler': `kube-scheduler-${v.kubernetes}`,
    kwok: `kwok-${v.kwok}`,
    'kwok-stages': `kwok-${v.kwok}-stages.yaml`,
    ferretdb: `ferretdb-${v.ferretdb}`,
    'kong-crds': `kic-crds-${v.kongCrds}.yaml`,
  };
}

/** Builds whatever is missing (minutes, once) and returns a lookup of binary paths. */
export function ensureBinaries(versions: GoServerVersions): (name: string) => string {
  const names = binaryNames(versions);
  const path = (name: string): string => {
    const file = names[name];
    if (!file) throw new Error(`unknown server binary ${name}`);
    return join(cacheDir(), 'bin', file);
  };
  const missing = Object.keys(names).filter((name) => !existsSync(path(name)));
  if (missing.length > 0) {
    console.error(
      `testenv: building ${missing.join(', ')} from the Go module proxy (first run only; several minutes)`,
    );
    const result = spawnSync('bash', [SCRIPT], { stdio: ['ignore', 'inherit', 'inherit'] });
    const still = Object.keys(names).filter((name) => !existsSync(path(name)));
    if (result.status !== 0 || still.length > 0) {
      throw new StartupError(
        `Could not build ${still.join(', ')} (tried: bash ${SCRIPT}, exit ${result.status}). ` +
          'It needs Go >= 1.26 and the Go module proxy; the messages above name the module that failed.',
      );
    }
  }
  return path;
}
