// The Node.js everything here runs on. package.json's engines.node is the floor (the one
// place it is set); tools/node/runtime.sh installs the pinned LTS build into the cache for
// a machine whose own node is older. `npm start` and `testenv exec` (the tests, the
// operator, the benchmarks) refuse an older node with the line that fixes it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './state.js';

/** What a developer types to put the pinned Node first on PATH in their shell. */
export const USE_PINNED_NODE = 'eval "$(bash tools/node/runtime.sh env)"';

/** The version in an engines.node of the form ">=24.11". */
export function engineFloor(engines: string | undefined): string {
  const floor = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(engines ?? '')?.[1];
  if (floor === undefined)
    throw new Error(`package.json engines.node must read ">=<version>", not ${String(engines)}`);
  return floor;
}

/** The root package.json's floor. */
export function requiredNode(): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    engines?: { node?: string };
  };
  return engineFloor(manifest.engines?.node);
}

function parts(version: string): number[] {
  return version.split(/[.-]/, 3).map((part) => Number.parseInt(part, 10) || 0);
}

/** Whether dotted version `have` is `floor` or later (missing parts count as 0). */
export function satisfies(have: string, floor: string): boolean {
  const [a, b] = [parts(have), parts(floor)];
  for (let i = 0; i < 3; i++) {
    const [x = 0, y = 0] = [a[i], b[i]];
    if (x !== y) return x > y;
  }
  return true;
}

/** Undefined when `version` meets the floor; otherwise what is wrong and what to do. */
export function nodeProblem(
  version: string = process.versions.node,
  floor: string = requiredNode(),
): string | undefined {
  if (satisfies(version, floor)) return undefined;
  return (
    `Node.js >= ${floor} is needed (this is ${version}). Put the pinned Node.js first on ` +
    `PATH (installed into the cache when missing), then run the command again: ${USE_PINNED_NODE}`
  );
}
