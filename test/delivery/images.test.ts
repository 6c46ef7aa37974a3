// The images' Dockerfiles and build context, checked without a Docker engine (there is
// none here): the properties each image must have, and that they agree with what the
// operator asks of them and with the files the operator's bundle reads at run time.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  buildDeployment,
  CRD_DIR,
  DEFAULT_SETTINGS,
  HTTP_PORT,
  loadConfig,
  TOPOLOGY_FILE,
  type Marketplace,
} from '@gorten/operator';
import { SERVICE_NODE_FLAGS } from '@gorten/kit/node-flags';
import {
  appPathOf,
  dockerignoreMatcher,
  findStage,
  parseDockerfile,
  runtimeFiles,
  type Instruction,
  type Stage,
} from '../../tools/build/dockerfile.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const manifest = JSON.parse(read('package.json')) as {
  version: string;
  license: string;
  engines: { node: string };
  workspaces: string[];
};

const mp: Marketplace = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Marketplace',
  metadata: { name: 'acme', uid: 'uid-1' },
  spec: { displayName: 'ACME', host: 'acme.shop.example.com' },
};
/** The container the operator runs for a tenant's catalog. */
const catalogPod = (
  buildDeployment(mp, 'catalog', DEFAULT_SETTINGS, 'digest').spec as {
    template: {
      spec: {
        securityContext: { runAsUser: number };
        containers: {
          image: string;
          args: string[];
          ports: { containerPort: number }[];
          securityContext: { readOnlyRootFilesystem: boolean };
        }[];
      };
    };
  }
).template.spec;

const operatorDefaults = loadConfig({
  GORTEN_MONGO_ADMIN_URL: 'mongodb://mongo:27017',
  GORTEN_RABBITMQ_MANAGEMENT_URL: 'http://rabbitmq:15672',
  GORTEN_RABBITMQ_ADMIN_USER: 'admin',
  GORTEN_RABBITMQ_ADMIN_PASSWORD: 'secret',
});

interface Image {
  name: 'services' | 'operator';
  entry: string;
  /** Node's flags before the entry: the same as every other way the image's processes start. */
  nodeFlags: readonly string[];
  /** What the image's user must be: what its pods run as. */
  runAsUser: number;
  port: number;
}
const IMAGES: Image[] = [
  {
    name: 'services',
    entry: 'dist/services.mjs',
    nodeFlags: SERVICE_NODE_FLAGS,
    runAsUser: catalogPod.securityContext.runAsUser,
    port: HTTP_PORT,
  },
  // The operator's pod is the chart's; it runs as the same user as the tenants' pods.
  {
    name: 'operator',
    entry: 'dist/operator.mjs',
    nodeFlags: [],
    runAsUser: catalogPod.securityContext.runAsUser,
    port: operatorDefaults.metricsPort,
  },
];

const instructions = (stage: Stage, keyword: string): Instruction[] =>
  stage.instructions.filter((i) => i.keyword === keyword);

const lastStage = (stages: Stage[]): Stage => {
  const final = stages.at(-1);
  if (!final) throw new Error('no FROM');
  return final;
};

describe.each(IMAGES)('the $name image', (image) => {
  const stages = parseDockerfile(read(`${image.name}/Dockerfile`));
  const final = lastStage(stages);
  const files = runtimeFiles(stages);

  test('is built in a named stage and run from a later one that copies only from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0];
    expect(build?.name).toMatch(/^[a-z]+$/);
    for (const stage of stages) {
      for (const copy of [...instructions(stage, 'COPY'), ...instructions(stage, 'ADD')]) {
        const from = copy.flags.from;
        if (from === undefined) continue;
        const source = findStage(stages, from);
        expect({ line: copy.line, from, earlier: source && source.index < stage.index }).toEqual({
          line: copy.line,
          from,
          earlier: true,
        });
      }
    }
    // The final stage takes nothing from the build context: only what the build made.
    expect(instructions(final, 'COPY').every((c) => c.flags.from === build?.name)).toBe(true);
    expect(instructions(final, 'ADD')).toEqual([]);
  });

  test('runs on a Node LTS image pinned by major version, able to run the bundle', () => {
    const floor = Number(/(\d+)/.exec(manifest.engines.node)?.[1]);
    for (const stage of stages) {
      const tag = /^node:(\d+)-[a-z]+-slim$/.exec(stage.image);
      expect({ image: stage.image, pinnedByMajor: tag !== null }).toEqual({
        image: stage.image,
        pinnedByMajor: true,
      });
      const major = Number(tag?.[1]);
      // Even majors are the LTS lines; from 27 on every major becomes one.
      expect(major % 2 === 0 || major >= 27).toBe(true);
      // The bundle targets package.json's engines.node.
      expect(major).toBeGreaterThanOrEqual(floor);
    }
    // Built and run on the same Node.
    expect(new Set(stages.map((s) => s.image)).size).toBe(1);
  });

  test("runs as the non-root numeric user of the operator's pods", () => {
    const users = instructions(final, 'USER');
    expect(users).toHaveLength(1);
    const user = /^(\d+)(?::(\d+))?$/.exec(users[0]?.args ?? '');
    expect(user).not.toBeNull();
    expect(Number(user?.[1])).toBe(image.runAsUser);
    expect(Number(user?.[1])).not.toBe(0);
    if (user?.[2] !== undefined) expect(Number(user[2])).not.toBe(0);
    // Everything after USER runs as that user: no RUN may need root there.
    const userAt = final.instructions.indexOf(users[0]!);
    expect(final.instructions.slice(userAt).filter((i) => i.keyword === 'RUN')).toEqual([]);
  });

  test('starts Node on the bundle in exec form, with its flags, in production mode', () => {
    const entrypoints = instructions(final, 'ENTRYPOINT');
    expect(entrypoints).toHaveLength(1);
    expect(entrypoints[0]?.exec).toEqual(['node', ...image.nodeFlags, image.entry]);
    // No CMD: the pod's args (the service's name) are the entry's arguments.
    expect(instructions(final, 'CMD')).toEqual([]);
    // The build writes the bundle at the same path in the repository as in the image.
    expect(appPathOf(files, image.entry)).toBe(image.entry);
    const env = instructions(final, 'ENV').flatMap((i) => i.args.split(/\s+/));
    expect(env).toContain('NODE_ENV=production');
  });

  test('installs dependencies from the lockfile only, and runs none but the bundle', () => {
    const runs = stages.flatMap((s) => instructions(s, 'RUN').map((r) => ({ stage: s, run: r })));
    for (const { run } of runs)
      expect(run.args).not.toMatch(/\b(npm|yarn|pnpm)\s+(install|i|add)\b/);
    const build = stages[0]!;
    expect(instructions(build, 'RUN').some((r) => /\bnpm ci\b/.test(r.args))).toBe(true);
    expect(
      instructions(build, 'RUN').some((r) =>
        r.args.includes(`tools/build/bundle.ts ${image.name}`),
      ),
    ).toBe(true);
    // The final stage installs nothing and holds no dependencies and no sources.
    for (const run of instructions(final, 'RUN')) expect(run.args).not.toMatch(/\b(npm|npx|tsx)\b/);
    for (const file of files) {
      expect(file.repoPath).not.toMatch(/(^|\/)node_modules(\/|$)|\.ts$|(^|\/)src(\/|$)/);
      expect(file.repoPath).not.toBe('.');
    }
  });

  test('exposes the port it serves on and carries the OCI labels', () => {
    expect(instructions(final, 'EXPOSE').map((e) => e.args)).toEqual([String(image.port)]);
    const labels = instructions(final, 'LABEL')
      .map((l) => l.args)
      .join(' ');
    for (const key of ['title', 'description', 'version', 'licenses'])
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    expect(labels).toContain(`org.opencontainers.image.licenses="${manifest.license}"`);
    const version = instructions(final, 'ARG').find((a) => a.args.startsWith('VERSION='));
    expect(version?.args).toBe(`VERSION=${manifest.version}`);
  });
});

test("the operator's tenant pods run the services image of this version, naming the service", () => {
  const container = catalogPod.containers[0]!;
  expect(container.image).toBe(`ghcr.io/gorten/services:${manifest.version}`);
  expect(DEFAULT_SETTINGS.image).toEqual({
    repository: 'ghcr.io/gorten/services',
    tag: manifest.version,
  });
  expect(container.args).toEqual(['catalog']);
  expect(container.ports.map((p) => p.containerPort)).toEqual([HTTP_PORT]);
  // The image writes nothing at run time, so a read-only root file system suits it.
  expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
});

test('the operator image holds every file its bundle reads, where the bundle looks', () => {
  // Bundled, the operator finds these at their repository path under the app directory
  // (tools/build relocates import.meta.dirname so).
  const files = runtimeFiles(parseDockerfile(read('operator/Dockerfile')));
  const readAtRunTime = [
    ...readdirSync(CRD_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(CRD_DIR, f)),
    TOPOLOGY_FILE,
  ].map((f) => relative(ROOT, f));
  expect(readAtRunTime.length).toBeGreaterThanOrEqual(3);
  for (const path of readAtRunTime)
    expect({ path, at: appPathOf(files, path) }).toEqual({ path, at: path });
});

describe('the build context (.dockerignore)', () => {
  const ignored = dockerignoreMatcher(read('.dockerignore'));

  test('leaves out dependencies, build output, git, the test environment and caches', () => {
    for (const path of [
      'node_modules/koa/package.json',
      'services/kit/node_modules/x/index.js',
      'node_modules/.cache/tsc/operator/src/main.js',
      'dist/services.mjs',
      '.git/HEAD',
      '.testenv/state.json',
      'operator/test/support.ts',
      'services/catalog/.env',
      'coverage/lcov.info',
    ])
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
  });

  test('keeps what npm ci and the bundles need', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      ...manifest.workspaces.map((w) => `${w}/package.json`),
      'tools/build/bundle.ts',
      'tools/build/services-entry.ts',
      'operator/src/main.ts',
      'services/kit/src/index.ts',
      'services/testing/src/index.ts',
      ...readdirSync(CRD_DIR).map((f) => relative(ROOT, join(CRD_DIR, f))),
      relative(ROOT, TOPOLOGY_FILE),
    ];
    for (const path of needed)
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
  });

  test('rules: ** spans directories, a directory takes its contents, the last match wins', () => {
    const rules = dockerignoreMatcher('**/cache\nbuild\n!build/keep.txt\n/docs/*.md\n');
    expect(rules('cache')).toBe(true);
    expect(rules('a/b/cache/file')).toBe(true);
    expect(rules('cached')).toBe(false);
    expect(rules('build/out.js')).toBe(true);
    expect(rules('build/keep.txt')).toBe(false);
    expect(rules('docs/a.md')).toBe(true);
    expect(rules('docs/sub/a.md')).toBe(false);
    expect(rules('src/build.ts')).toBe(false);
  });
});

describe('the Dockerfile reader', () => {
  const stages = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=node',
      'FROM node:24-trixie-slim AS build',
      'WORKDIR /src',
      'RUN --mount=type=cache,target=/root/.npm \\',
      '    # a comment inside a continuation',
      '    npm ci',
      'FROM node:24-trixie-slim',
      'WORKDIR /app',
      'COPY --from=build /src/dist/a.mjs /src/dist/b.mjs dist/',
      'COPY --from=0 /src/data/ data/',
      'COPY --from=build ["/src/conf.json", "/app/etc/conf.json"]',
      'ENTRYPOINT ["node", "dist/a.mjs"]',
    ].join('\n'),
  );

  test('joins continuations, drops comments, reads options and the exec form', () => {
    expect(stages.map((s) => [s.name, s.image])).toEqual([
      ['build', 'node:24-trixie-slim'],
      [undefined, 'node:24-trixie-slim'],
    ]);
    const run = stages[0]!.instructions[1]!;
    expect(run).toMatchObject({ keyword: 'RUN', flags: { mount: 'type=cache,target=/root/.npm' } });
    expect(run.args).toBe('npm ci');
    expect(stages[1]!.instructions.at(-1)?.exec).toEqual(['node', 'dist/a.mjs']);
  });

  test('maps what the final stage copies to repository and app paths', () => {
    const files = runtimeFiles(stages);
    expect(appPathOf(files, 'dist/a.mjs')).toBe('dist/a.mjs');
    expect(appPathOf(files, 'dist/b.mjs')).toBe('dist/b.mjs');
    expect(appPathOf(files, 'data/x/y.json')).toBe('data/x/y.json');
    expect(appPathOf(files, 'conf.json')).toBe('etc/conf.json');
    expect(appPathOf(files, 'dist/c.mjs')).toBeUndefined();
  });
});
