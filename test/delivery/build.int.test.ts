// The production bundles, run the way the images run them: made by the command the
// images' build stages run, laid out in a temporary directory as each Dockerfile's final
// stage copies them (no node_modules anywhere above it), and started with `node` against
// the real test servers with the environment the operator gives a pod.
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import jwt from 'jsonwebtoken';
import { currentEnvFile, envVars, eventually, spawnTracked } from '@gorten/testenv';
import { TestTenant } from '@gorten/service-testing';
import { SERVICE_NAMES } from '@gorten/operator';
import { SERVICE_NODE_FLAGS } from '@gorten/kit/node-flags';
import {
  deleteMarketplaces,
  env,
  marketplace,
  SHARD_LABEL,
  testKube,
  waitForCondition,
} from '../../operator/test/support.js';
import {
  dockerignoreMatcher,
  parseDockerfile,
  runtimeFiles,
} from '../../tools/build/dockerfile.js';
import type { Metafile } from 'esbuild';
import { BUNDLE_NAMES, metafilePath, type BundleName } from '../../tools/build/bundles.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const trees: string[] = [];
const children = new Set<ChildProcess>();

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function run(command: string, args: string[], cwd: string): Promise<Exit & { output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(command, command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

/** The app directory of an image, as its final stage copies it, from the repository. */
function assembleImage(name: 'services' | 'operator'): string {
  const app = mkdtempSync(join(tmpdir(), `gorten-${name}-image-`));
  trees.push(app);
  for (const file of runtimeFiles(
    parseDockerfile(readFileSync(join(ROOT, name, 'Dockerfile'), 'utf8')),
  )) {
    const source = join(ROOT, file.repoPath);
    // A directory brings its contents; a file copied into a directory keeps its name.
    const dest =
      file.intoDirectory && !statSync(source).isDirectory()
        ? join(app, file.appPath, basename(source))
        : join(app, file.appPath);
    cpSync(source, dest, { recursive: true });
  }
  for (let dir = app; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules')))
      throw new Error(`${dir}/node_modules would let the bundle load what the image lacks`);
  }
  return app;
}

/** Node's arguments in the services image's ENTRYPOINT (images.test.ts holds them to the Dockerfile). */
const SERVICES_ENTRY = [...SERVICE_NODE_FLAGS, 'dist/services.mjs'];

/** A bundle started as the image's ENTRYPOINT starts it, with only the given environment. */
class Started {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<Exit>;

  /** `argv`: node's arguments, the image's ENTRYPOINT without `node` and then its args. */
  constructor(app: string, argv: string[], environment: NodeJS.ProcessEnv) {
    this.child = spawnTracked('image entrypoint', process.execPath, argv, {
      cwd: app,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(this.child);
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        children.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  /** The first JSON log line with this message; fails early if the process exits. */
  async logLine(msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    try {
      return await eventually({ what: `log line "${msg}"`, timeoutMs, pid: this.child.pid }, () =>
        this.output
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => entry.msg === msg),
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; its output:\n${this.output}`, { cause: err });
    }
  }

  /** SIGTERM, as the kubelet stops a pod; resolves with how it exited. */
  async stop(timeoutMs = 25_000): Promise<Exit> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

async function expectReady(base: string): Promise<void> {
  await eventually({ what: `${base}/readyz 200`, timeoutMs: 30_000 }, async () =>
    (await get(`${base}/readyz`)).status === 200 ? true : undefined,
  );
}

let servicesApp: string;
let operatorApp: string;

beforeAll(async () => {
  // The build stages' own command (services/Dockerfile, operator/Dockerfile).
  const built = await run(TSX, ['tools/build/bundle.ts', ...BUNDLE_NAMES], ROOT);
  if (built.code !== 0) throw new Error(`the bundler failed:\n${built.output}`);
  servicesApp = assembleImage('services');
  operatorApp = assembleImage('operator');
}, 180_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const tree of trees) rmSync(tree, { recursive: true, force: true });
});

const metafile = (name: BundleName): Metafile =>
  JSON.parse(readFileSync(metafilePath(name), 'utf8')) as Metafile;

/** The output file holding a service's main module. */
function serviceChunk(service: string): string | undefined {
  const { outputs } = metafile('services');
  return Object.keys(outputs).find(
    (o) => `services/${service}/src/main.ts` in (outputs[o]?.inputs ?? {}),
  );
}

describe('the bundles', () => {
  test('hold each service in a chunk of its own that the entry only imports dynamically', () => {
    const { outputs } = metafile('services');
    const entry = outputs['dist/services.mjs'];
    if (!entry) throw new Error(`no dist/services.mjs among ${Object.keys(outputs).join(', ')}`);
    // Everything the entry loads before choosing: no service's code.
    const eager = new Set<string>(['dist/services.mjs']);
    for (const path of eager) {
      for (const i of outputs[path]?.imports ?? [])
        if (i.kind === 'import-statement' && !i.external) eager.add(i.path);
    }
    const eagerInputs = [...eager].flatMap((o) => Object.keys(outputs[o]?.inputs ?? {}));
    expect(eagerInputs.filter((input) => input.startsWith('services/'))).toEqual([]);

    const chunks = SERVICE_NAMES.map(serviceChunk);
    expect(new Set(chunks).size).toBe(SERVICE_NAMES.length);
    const dynamic = entry.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path);
    expect(dynamic.sort()).toEqual([...chunks].sort());
  });

  test('are made only of sources the Docker build context holds', () => {
    const ignored = dockerignoreMatcher(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    const ours = BUNDLE_NAMES.flatMap((name) => Object.keys(metafile(name).inputs)).filter(
      (input) => !/(^|\/)node_modules\//.test(input),
    );
    expect(ours.length).toBeGreaterThan(50);
    expect(ours.filter(ignored)).toEqual([]);
  });
});

describe('the services image', () => {
  test('exits 2 naming the services when the argument is unknown or missing', async () => {
    for (const args of [['nope'], []]) {
      const started = new Started(servicesApp, [...SERVICES_ENTRY, ...args], {});
      expect(await started.exited).toEqual({ code: 2, signal: null });
      for (const name of SERVICE_NAMES) expect(started.output).toContain(name);
      if (args[0]) expect(started.output).toContain(`unknown service "${args[0]}"`);
    }
  });

  // Every service's module graph evaluates from the bundle alone; without its environment
  // each then stops at its configuration, naming what is missing.
  test.each(SERVICE_NAMES)('loads %s and stops at its missing configuration', async (name) => {
    const started = new Started(servicesApp, [...SERVICES_ENTRY, name], {});
    expect(await started.exited).toEqual({ code: 1, signal: null });
    expect(started.output).toContain(`Gorten ${name} did not start: invalid configuration`);
    expect(started.output).toContain('MONGODB_URI: missing');
  });

  test("loads the chosen service's chunk and no other service's", async () => {
    // A module hook that names every file of the bundle Node loads. The hooks run on a
    // thread of their own whose process.stderr is flushed asynchronously (Node 24), so
    // lines written there are lost when the service exits: write to fd 2 directly.
    const hooks = mkdtempSync(join(tmpdir(), 'gorten-load-hooks-'));
    trees.push(hooks);
    writeFileSync(
      join(hooks, 'hooks.mjs'),
      "import { writeSync } from 'node:fs';\n" +
        'export async function load(url, context, next) {\n' +
        "  if (url.includes('/dist/')) writeSync(2, `loaded ${url.split('/dist/')[1]}\\n`);\n" +
        '  return next(url, context);\n}\n',
    );
    writeFileSync(
      join(hooks, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(hooks, 'hooks.mjs')).href)});\n`,
    );
    // Without its environment catalog stops at its configuration, after loading.
    const catalog = new Started(
      servicesApp,
      [
        ...SERVICE_NODE_FLAGS,
        '--import',
        join(hooks, 'register.mjs'),
        'dist/services.mjs',
        'catalog',
      ],
      {},
    );
    expect(await catalog.exited).toEqual({ code: 1, signal: null });
    expect(catalog.output).toContain('MONGODB_URI: missing');
    const loaded = [...catalog.output.matchAll(/^loaded (\S+)$/gm)].map((m) => `dist/${m[1]}`);
    expect(loaded).toContain(serviceChunk('catalog'));
    for (const other of SERVICE_NAMES.filter((s) => s !== 'catalog'))
      expect(loaded).not.toContain(serviceChunk(other));
  });

  test('runs catalog: health checks, its OpenAPI document, and a clean stop on SIGTERM', async () => {
    const tenant = await TestTenant.create('image-catalog');
    try {
      const catalog = new Started(
        servicesApp,
        [...SERVICES_ENTRY, 'catalog'],
        tenant.serviceEnv('catalog', { LOG_LEVEL: 'info' }),
      );
      const { port } = await catalog.logLine('listening');
      const base = `http://127.0.0.1:${String(port)}`;
      expect((await get(`${base}/healthz`)).status).toBe(200);
      await expectReady(base);
      const openApi = await get(`${base}/openapi.json`);
      expect(openApi.status).toBe(200);
      expect(JSON.parse(openApi.body)).toEqual(
        JSON.parse(readFileSync(join(ROOT, 'services', 'catalog', 'openapi.json'), 'utf8')),
      );
      expect(await catalog.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await tenant.destroy();
    }
  });

  test('runs users: a first admin signs in and gets an RS256 token of the tenant', async () => {
    const tenant = await TestTenant.create('image-users');
    const admin = { email: 'root@example.com', password: 'correct horse battery' };
    try {
      const users = new Started(
        servicesApp,
        [...SERVICES_ENTRY, 'users'],
        tenant.serviceEnv('users', {
          LOG_LEVEL: 'info',
          JWT_PRIVATE_KEY: tenant.keys.privateKey,
          PASSWORD_SCRYPT_LOG2N: '12',
          BOOTSTRAP_ADMIN_EMAIL: admin.email,
          BOOTSTRAP_ADMIN_PASSWORD: admin.password,
        }),
      );
      const { port } = await users.logLine('listening');
      const base = `http://127.0.0.1:${String(port)}`;
      await expectReady(base);
      const response = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'password',
          username: admin.email,
          password: admin.password,
        }),
      });
      expect(response.status).toBe(200);
      const { access_token } = (await response.json()) as { access_token: string };
      const claims = jwt.verify(access_token, tenant.keys.publicKey, {
        algorithms: ['RS256'],
        issuer: tenant.issuer,
        audience: tenant.name,
      }) as jwt.JwtPayload;
      expect(claims.roles).toContain('admin');
      expect(await users.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await tenant.destroy();
    }
  });
});

describe('the operator image', () => {
  test('installs the CRDs from its crds/, provisions a tenant and stops cleanly on SIGTERM', async () => {
    const shard = `image-${randomBytes(3).toString('hex')}`;
    const name = `img-${randomBytes(3).toString('hex')}`;
    const kube = testKube();
    const operator = new Started(operatorApp, ['dist/operator.mjs'], {
      ...envVars(env, currentEnvFile()),
      GORTEN_LEADER_ELECT: 'false',
      // Read from crds/ in the image; the same documents the other tests apply.
      GORTEN_INSTALL_CRDS: 'true',
      GORTEN_METRICS_PORT: '0',
      GORTEN_RESYNC_SECONDS: '2',
      GORTEN_MARKETPLACE_SELECTOR: `${SHARD_LABEL}=${shard}`,
      GORTEN_LOG_LEVEL: 'info',
    });
    let created = false;
    try {
      const { port } = await operator.logLine('gorten operator running', 60_000);
      const base = `http://127.0.0.1:${String(port)}`;
      expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: 'ok' });
      await expectReady(base);
      expect((await get(`${base}/metrics`)).body).toContain('gorten_operator_reconcile_total');

      // Ready means the tenant's vhost holds rabbitmq/topology.json, read from the image.
      await kube.create(marketplace(shard, name, { deletionPolicy: 'Delete' }));
      created = true;
      await waitForCondition(kube, name, 'Ready', 'True');
      await deleteMarketplaces(kube, [name]);
      created = false;

      expect(await operator.stop()).toEqual({ code: 0, signal: null });
    } catch (err) {
      throw new Error(`${(err as Error).message}\noperator output:\n${operator.output}`, {
        cause: err,
      });
    } finally {
      // While the operator still runs, it can finalize what the test left behind.
      if (created) await deleteMarketplaces(kube, [name]).catch(() => undefined);
      kube.close();
    }
  }, 240_000);
});
