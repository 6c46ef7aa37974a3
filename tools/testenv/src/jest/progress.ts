// Which test files are running, as files in GORTEN_TEST_PROGRESS (set by .ci/run): when
// CI's deadline fires, it names the files that were still running.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const folder = process.env.GORTEN_TEST_PROGRESS;
if (folder) {
  const marker = join(folder, `${process.pid}.running`);
  beforeAll(() => {
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      marker,
      `${expect.getState().testPath ?? 'a test file'} (since ${new Date().toISOString()})\n`,
    );
  });
  afterAll(() => {
    rmSync(marker, { force: true });
  });
}
