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
  prometheusCrds: string;
  jaeger: string;
  helm: string;
  deck: string;
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
    'prometheus-crds': `prometheus-operator-crds-${v.prometheusCrds}.yaml`,
    jaeger: `jaeger-${v.jaeger}`,
    helm: `helm-${v.helm}`,
    deck: `deck-${v.deck}`,
  };
}

/**
 * What only some tests use (not servers): built or fetched on first use, not for every
 * `up` — the tools they call, and the Prometheus Operator CRDs one test file applies.
 */
const TOOLS = ['helm', 'deck', 'prometheus-crds'] as const;

/** The servers not built yet (empty once build-servers.sh has run). */
export function missingBinaries(versions: GoServerVersions): string[] {
  return Object.entries(binaryNames(versions))
    .filter(([name]) => !(TOOLS as readonly string[]).includes(name))
    .filter(([, file]) => !existsSync(join(cacheDir(), 'bin', file)))
    .map(([name]) => name);
}

/** Builds whatever is missing (minutes, once) and returns a lookup of binary paths. */
export function ensureBinaries(
  versions: GoServerVersions,
  wanted: readonly string[] = Object.keys(binaryNames(versions)).filter(
    (name) => !(TOOLS as readonly string[]).includes(name),
  ),
): (name: string) => string {
  const names = binaryNames(versions);
  const path = (name: string): string => {
    const file = names[name];
    if (!file) throw new Error(`unknown server binary ${name}`);
    return join(cacheDir(), 'bin', file);
  };
  const missing = wanted.filter((name) => !existsSync(path(name)));
  if (missing.length > 0) {
    console.error(
      `testenv: building ${missing.join(', ')} from the Go module proxy (first run only; several minutes)`,
    );
    const components = wanted.every((name) => (TOOLS as readonly string[]).includes(name))
      ? wanted
      : [];
    const result = spawnSync('bash', [SCRIPT, ...components], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const still = wanted.filter((name) => !existsSync(path(name)));
    if (result.status !== 0 || still.length > 0) {
      throw new StartupError(
        `Could not build ${still.join(', ')} (tried: bash ${SCRIPT}, exit ${result.status}). ` +
          'It needs Go >= 1.26 and the Go module proxy; the messages above name the module that failed.',
      );
    }
  }
  return path;
}

/** The path of a Go-built tool (helm, deck) or file, made first when the cache lacks it. */
export function goTool(name: (typeof TOOLS)[number]): string {
  return ensureBinaries(goServerVersions(), [name])(name);
}
