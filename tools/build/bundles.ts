// The production bundles the images run (production runs no tsx and has no node_modules):
//   dist/services.mjs + dist/services/  `node dist/services.mjs <service>`; each service is
//                                       a chunk of its own, loaded only when chosen
//   dist/operator.mjs                   `node dist/operator.mjs`
// Dependencies are bundled in: a few MB of JavaScript instead of every workspace's
// production node_modules, and nothing to resolve at run time. What dependencies load
// only optionally is listed below, and the build fails on anything else left unresolved.
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import * as esbuild from 'esbuild';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DIST = join(ROOT, 'dist');

export const BUNDLE_NAMES = ['services', 'operator'] as const;
export type BundleName = (typeof BUNDLE_NAMES)[number];

const BUNDLES: Record<BundleName, { entry: string; splitting: boolean }> = {
  services: { entry: 'tools/build/services-entry.ts', splitting: true },
  operator: { entry: 'operator/src/main.ts', splitting: false },
};

/** Chunks of the services bundle live here, under dist/. */
const SERVICE_CHUNKS_DIR = 'services';

/**
 * Modules dependencies `require` (or `import()`) inside try/catch and do without; none is
 * installed, so each stays an unresolved require that fails over to the package's fallback.
 */
const OPTIONAL_MODULES: Record<string, string> = {
  kerberos: 'mongodb: GSSAPI authentication',
  snappy: 'mongodb: wire compression',
  '@mongodb-js/zstd': 'mongodb: wire compression',
  '@aws-sdk/credential-providers': 'mongodb: AWS authentication',
  'gcp-metadata': 'mongodb: GCP authentication',
  'mongodb-client-encryption': 'mongodb: client-side field encryption',
  bufferutil: 'ws: native speed-ups',
  'utf-8-validate': 'ws: native speed-ups',
  encoding: 'node-fetch: non-UTF-8 bodies',
  '@node-rs/xxhash': 'node-redis: its client-side digest() helper, which nothing here calls',
};
/** `require(<computed>)`: pino's worker-thread transports, which nothing here uses. */
const DYNAMIC_REQUIRE_ALLOWED = ['node_modules/pino/'];

export function metafilePath(name: BundleName): string {
  return join(DIST, `${name}.meta.json`);
}

/** esbuild's target from the root package.json: engines.node ">=24.11" → node24.11. */
export function nodeTarget(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    engines?: { node?: string };
  };
  const floor = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(manifest.engines?.node ?? '');
  if (!floor) throw new Error('package.json engines.node must read ">=<version>"');
  return `node${floor[1] ?? ''}`;
}

// CommonJS dependencies call require(); an ES module has none until it makes one.
const REQUIRE_BANNER =
  "import { createRequire as __gortenCreateRequire } from 'node:module'; " +
  'const require = __gortenCreateRequire(import.meta.url);';

const IMPORT_META_PATH = /\bimport\.meta\.(dirname|filename|url)\b/;
const IMPORT_META_PATH_ALL = new RegExp(IMPORT_META_PATH.source, 'g');

/**
 * Our sources find files next to them with import.meta.dirname (crds/, rabbitmq/). In a
 * bundle that would name dist/, so each such source gets the directory it has in the
 * repository, taken relative to the bundle: the image lays out dist/ and those files as
 * the repository does. Only outputs directly in dist/ can do this; see checkRelocations.
 */
function relocateImportMeta(relocated: Set<string>): esbuild.Plugin {
  return {
    name: 'relocate-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!IMPORT_META_PATH.test(source)) return undefined;
        const file = relative(ROOT, args.path);
        const sourceDir = relative(DIST, dirname(args.path)).split(sep).join('/');
        const contents = source.replace(IMPORT_META_PATH_ALL, (_, property: string) => {
          if (property === 'url')
            throw new Error(
              `${file}: import.meta.url cannot be relocated; use import.meta.dirname`,
            );
          const target = property === 'dirname' ? sourceDir : `${sourceDir}/${basename(file)}`;
          return `__gortenJoin(import.meta.dirname, ${JSON.stringify(target)})`;
        });
        relocated.add(file);
        // On the first line, so line numbers in messages stay those of the source.
        return {
          contents: `import { join as __gortenJoin } from 'node:path'; ${contents}`,
          loader: 'ts',
        };
      });
    },
  };
}

function checkRelocations(metafile: esbuild.Metafile, relocated: Set<string>): void {
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    if (dirname(join(ROOT, output)) === DIST) continue;
    const misplaced = Object.keys(inputs).filter((input) => relocated.has(input));
    if (misplaced.length > 0)
      throw new Error(
        `${misplaced.join(', ')} read files beside them but landed in ${output}, not directly in dist/`,
      );
  }
}

function checkUnresolved(metafile: esbuild.Metafile): void {
  const builtins = new Set(builtinModules);
  const problems: string[] = [];
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    for (const { path, external } of imports) {
      if (!external || builtins.has(path.replace(/^node:/, '')) || path in OPTIONAL_MODULES)
        continue;
      if (path === '<runtime>' && DYNAMIC_REQUIRE_ALLOWED.some((p) => input.startsWith(p)))
        continue;
      problems.push(`${input} requires ${path}`);
    }
  }
  if (problems.length > 0)
    throw new Error(
      `unresolved at run time (no node_modules in the image):\n  ${problems.join('\n  ')}`,
    );
}

export async function bundle(name: BundleName): Promise<esbuild.Metafile> {
  const spec = BUNDLES[name];
  if (spec.splitting) rmSync(join(DIST, SERVICE_CHUNKS_DIR), { recursive: true, force: true });
  const relocated = new Set<string>();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { [name]: spec.entry },
    outdir: DIST,
    outExtension: { '.js': '.mjs' },
    chunkNames: `${SERVICE_CHUNKS_DIR}/[name]-[hash]`,
    splitting: spec.splitting,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: nodeTarget(),
    banner: { js: REQUIRE_BANNER },
    // No source maps: none ships in the image, and unminified code keeps stack traces
    // and function names readable.
    sourcemap: false,
    minify: false,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
    plugins: [relocateImportMeta(relocated)],
  });
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
    throw new Error(`esbuild warned (treated as errors):\n${text.join('\n')}`);
  }
  checkRelocations(result.metafile, relocated);
  checkUnresolved(result.metafile);
  writeFileSync(metafilePath(name), JSON.stringify(result.metafile));
  return result.metafile;
}
