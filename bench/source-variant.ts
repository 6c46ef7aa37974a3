// Before and after in one benchmark run: a service process started with
// `--import ./bench/source-variant.ts` and GORTEN_BENCH_SOURCES=<folder> resolves the
// @gorten service packages found in that folder (another commit's services/<package>,
// extracted by sourcesAt) there instead of in this checkout; every other import, npm
// packages included, stays this checkout's. Without the variable it changes nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface PackageJson {
  name: string;
  exports: Record<string, string>;
}

/** Each package's export specifiers ('@gorten/kit', '@gorten/kit/config') as file URLs. */
function exportsIn(sources: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of readdirSync(join(sources, 'services'))) {
    const at = join(sources, 'services', dir);
    const pkg = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as PackageJson;
    for (const [subpath, file] of Object.entries(pkg.exports))
      files.set(join(pkg.name, subpath), pathToFileURL(join(at, file)).href);
  }
  return files;
}

const sources = process.env.GORTEN_BENCH_SOURCES;
if (sources) {
  const redirected = exportsIn(sources);
  registerHooks({
    resolve(specifier, context, nextResolve) {
      return nextResolve(redirected.get(specifier) ?? specifier, context);
    },
  });
}

/**
 * The sources of the service packages `packages` (folders under services/, e.g. 'kit')
 * at git `ref`, extracted once into a folder inside the repository (so their imports find
 * the repository's node_modules); returns that folder.
 */
export function sourcesAt(root: string, ref: string, packages: readonly string[]): string {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = join(
    root,
    'node_modules',
    '.cache',
    'bench-sources',
    `${commit}-${packages.join('-')}`,
  );
  if (!existsSync(join(dir, 'services'))) {
    mkdirSync(dir, { recursive: true });
    // With their package.json: ESM, as ours are (node_modules is no package scope of ours).
    const paths = packages.flatMap((p) => [`services/${p}/package.json`, `services/${p}/src`]);
    const archive = execFileSync('git', ['archive', commit, ...paths], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  return dir;
}

/** The service packages (folders under services/ with a package.json) at git `ref`. */
export function servicePackagesAt(root: string, ref: string): string[] {
  const listing = execFileSync('git', ['ls-tree', '-r', '--name-only', `${ref}:services`], {
    cwd: root,
    encoding: 'utf8',
  });
  return listing
    .split('\n')
    .map((path) => /^([^/]+)\/package\.json$/.exec(path)?.[1])
    .filter((dir) => dir !== undefined);
}
