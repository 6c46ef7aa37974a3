// `tsx tools/build/bundle.ts [services|operator]...`: writes the production bundles to
// dist/ (all of them when none is named). The images' build stages run it.
import { BUNDLE_NAMES, bundle, type BundleName } from './bundles.js';

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(BUNDLE_NAMES as readonly string[]).includes(a));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown bundle ${unknown.join(', ')}; usage: bundle.ts [${BUNDLE_NAMES.join('|')}]...\n`,
  );
  process.exit(2);
}
const names = asked.length > 0 ? (asked as BundleName[]) : [...BUNDLE_NAMES];

try {
  for (const name of names) {
    const outputs = Object.entries((await bundle(name)).outputs);
    const bytes = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
    process.stdout.write(
      `${name}: ${outputs.length} file(s) in dist/, ${(bytes / 1e6).toFixed(1)} MB\n`,
    );
  }
} catch (err) {
  process.stderr.write(`bundle failed: ${(err as Error).message}\n`);
  process.exit(1);
}
