// A/B of the kit in one benchmark run: a service process started with
// `--import ./bench/kit-variant.ts` and GORTEN_BENCH_KIT_SRC=<folder> runs the kit whose
// sources are in that folder (another commit's services/kit/src, see kitSourcesAt) instead
// of this checkout's, everything else alike. Without the variable it changes nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const KIT = '@gorten/kit';

/** The kit's package exports, as files of its src folder ('.' is index.ts). */
function kitFile(specifier: string): string | undefined {
  if (specifier === KIT) return 'index.ts';
  if (specifier.startsWith(`${KIT}/`)) return `${specifier.slice(KIT.length + 1)}.ts`;
  return undefined;
}

const sources = process.env.GORTEN_BENCH_KIT_SRC;
if (sources) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const file = kitFile(specifier);
      if (file === undefined) return nextResolve(specifier, context);
      return nextResolve(pathToFileURL(join(sources, file)).href, context);
    },
  });
}

/**
 * The kit's sources at git `ref`, extracted once into a folder inside the repository (so
 * its imports find the repository's node_modules); returns that folder.
 */
export function kitSourcesAt(root: string, ref: string): string {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = join(root, 'node_modules', '.cache', 'bench-kit', commit);
  const src = join(dir, 'services', 'kit', 'src');
  if (!existsSync(src)) {
    mkdirSync(dir, { recursive: true });
    // With its package.json: ESM, as the kit is (node_modules is no package scope of ours).
    const paths = ['services/kit/package.json', 'services/kit/src'];
    const archive = execFileSync('git', ['archive', commit, ...paths], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  return src;
}
