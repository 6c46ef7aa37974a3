// Jest's global teardown, in the main Jest process after every test file has run: stops
// whatever the tests started and left running (what this run owns, see owners.ts), and
// fails the run naming it. Then a last-resort guard: if Jest is still alive a while
// later, something keeps it open; name what and end with the run's real result.
import { describeOwned, ownersOf, sweepOwner, type Owned } from '../owners.js';

const GUARD_MS = 30_000;

function armExitGuard(failed: boolean): void {
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    console.error(
      `Jest was still running ${GUARD_MS / 1000} s after its tests ended; still open: ${open.join(', ')}. Ending it.`,
    );
    if (failed) process.exitCode = 1;
    // No code given: Jest's own exit handler puts the run's result in process.exitCode.
    process.exit();
  }, GUARD_MS).unref();
}

export default async function teardown(): Promise<void> {
  const [run] = ownersOf();
  let left: Owned[] = [];
  try {
    if (run) left = await sweepOwner(run);
  } finally {
    armExitGuard(left.length > 0);
  }
  if (left.length > 0)
    throw new Error(
      `These processes were still running after the tests ended (now stopped): ${describeOwned(left)}`,
    );
}
