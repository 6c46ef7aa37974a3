// tools/schemathesis/venv.sh, which puts the pinned schemathesis in a venv of the cache,
// run against a fake `python3` (its venv and pip only write files): no download here, the
// contract test does the real one. What it must do: install once and then only check,
// rebuild a venv an interrupted install left, and refuse a Python it cannot use, saying
// what to install.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'tools', 'schemathesis', 'venv.sh');
const PINNED = /^schemathesis==(\S+)$/m.exec(
  readFileSync(join(ROOT, 'tools', 'schemathesis', 'requirements.txt'), 'utf8'),
)?.[1];

let dir: string;
let cache: string;
let python: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gorten-schemathesis-venv-'));
  cache = join(dir, 'cache');
  python = join(dir, 'python3');
  log = join(dir, 'calls.log');
  // Answers the script's questions; `-m venv` makes a venv whose python's pip "installs"
  // a schemathesis reporting the version of the requirements it was given.
  writeFileSync(
    python,
    `#!/usr/bin/env bash
echo "python $*" >> "${log}"
case "$1 $2" in
  "-c import sys"*) echo "\${FAKE_PYTHON_VERSION:-3.11}" ;;
  "-c import venv, ensurepip") exit "\${FAKE_NO_VENV:-0}" ;;
  "-m venv")
    mkdir -p "$3/bin"
    cat > "$3/bin/python" <<'VENV'
#!/usr/bin/env bash
echo "pip $*" >> "${log}"
[ -z "\${FAKE_PIP_FAILS:-}" ] || { echo "no route to PyPI" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^schemathesis==//p' "\${@: -1}")
printf '#!/usr/bin/env bash\\necho "schemathesis, version %s"\\n' "$version" > "$here/schemathesis"
chmod +x "$here/schemathesis"
VENV
    chmod +x "$3/bin/python" ;;
  *) exit 1 ;;
esac
`,
  );
  chmodSync(python, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function venv(command: string, env: Record<string, string> = {}) {
  const result = spawnSync('bash', [SCRIPT, command], {
    env: { ...process.env, GORTEN_CACHE: cache, GORTEN_PYTHON: python, ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

const calls = (prefix: string) =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(prefix))
    : [];

test('version is the one requirements.txt pins', () => {
  expect(PINNED).toMatch(/^\d+\.\d+\.\d+$/);
  expect(venv('version')).toEqual({ status: 0, stdout: PINNED, stderr: '' });
});

test('installs once into the cache, from the pinned list, wheels only; then only checks', () => {
  const first = venv('install');
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(
    new RegExp(`^${cache}/schemathesis/${PINNED}-[0-9a-f]{12}-py3\\.11/bin/schemathesis$`),
  );
  expect(spawnSync(first.stdout, { encoding: 'utf8' }).stdout.trim()).toBe(
    `schemathesis, version ${PINNED}`,
  );
  expect(calls('pip')).toEqual([
    expect.stringMatching(/install .*--only-binary=:all: --requirement .*requirements\.txt$/),
  ]);
  expect(venv('install')).toEqual({ status: 0, stdout: first.stdout, stderr: '' });
  expect(calls('python -m venv')).toHaveLength(1);
});

test('a venv an interrupted install left (no .complete) is built again', () => {
  const path = venv('install').stdout;
  rmSync(join(path, '..', '..', '.complete'));
  const again = venv('install');
  expect(again).toMatchObject({ status: 0, stdout: path });
  expect(again.stderr).toContain('incomplete or broken: installing it again');
  expect(calls('python -m venv')).toHaveLength(2);
});

test('a failed pip install says so and leaves nothing behind', () => {
  const failed = venv('install', { FAKE_PIP_FAILS: '1' });
  expect(failed.status).toBe(1);
  expect(failed.stderr).toContain('no route to PyPI');
  expect(failed.stderr).toContain('is PyPI reachable');
  expect(existsSync(join(cache, 'schemathesis'))).toBe(true);
  expect(spawnSync('ls', [join(cache, 'schemathesis')], { encoding: 'utf8' }).stdout.trim()).toBe(
    '',
  );
});

test.each([
  [{ FAKE_PYTHON_VERSION: '3.10' }, 'is Python 3.10; schemathesis'],
  [
    { FAKE_NO_VENV: '1' },
    'lacks the venv or ensurepip module (Debian: apt-get install python3-venv)',
  ],
])('refuses a Python it cannot use, naming the fix (%o)', (env, message) => {
  const refused = venv('install', env);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain(message);
  expect(calls('python -m venv')).toEqual([]);
});

test('a missing python3 names the package to install', () => {
  mkdirSync(join(dir, 'empty'));
  const refused = venv('install', { GORTEN_PYTHON: join(dir, 'empty', 'python3') });
  expect(refused).toMatchObject({ status: 1 });
  expect(refused.stderr).toContain('apt-get install python3-venv');
});
