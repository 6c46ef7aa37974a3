// npm start as a new user meets it: from an empty home folder to a running marketplace
// whose API, docs (Swagger UI as headless Chromium renders it) and demo accounts work end to
// end (a purchase, its emails), listening on loopback only; Ctrl-C stops every process; a
// start killed halfway is cleaned up by the next, which finds the same data; a taken port or
// a second start is refused with a message.
import { type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SERVICE_NAMES } from '@gorten/operator';
import { SERVICE_NODE_FLAGS } from '@gorten/kit/node-flags';
import {
  eventually,
  freePort,
  isLoopback,
  killTracked,
  listenersOf,
  renderedDom,
  repoRoot,
  screenshot,
  spawnTracked,
} from '@gorten/testenv';
import {
  definitionNames,
  missingOperations,
  operationCount,
  renderedErrors,
  renderedTitle,
} from './swagger.js';

const home = mkdtempSync(join(tmpdir(), 'gorten-start-test-'));
// mkdtemp makes it private; RabbitMQ, running as its own user, must pass through it.
chmodSync(home, 0o711);
let port: number;

interface Start {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const starts: Start[] = [];

function npmStart(env: Record<string, string> = {}): Start {
  let output = '';
  // Only what a user's shell would have: none of the test environment's variables.
  const child = spawnTracked(
    'npm start',
    process.execPath,
    ['--import', 'tsx', 'tools/start/src/main.ts'],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(process.env.GORTEN_CACHE ? { GORTEN_CACHE: process.env.GORTEN_CACHE } : {}),
        GORTEN_HOME: home,
        GORTEN_PORT: String(port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const start = { child, output: () => output, exited };
  starts.push(start);
  return start;
}

async function running(start: Start): Promise<void> {
  try {
    await eventually({ what: 'npm start to be running', timeoutMs: STARTING_MS }, () => {
      if (start.child.exitCode !== null) throw new Error(`it exited ${start.child.exitCode}`);
      return start.output().includes('Press Ctrl-C to stop') ? true : undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}; its output:\n${start.output()}`, { cause: err });
  }
}

async function stop(start: Start): Promise<void> {
  start.child.kill('SIGINT');
  expect(await start.exited).toBe(0);
  expect(start.output()).toContain('Stopped; data kept.');
}

// A first start builds nothing here (CI has built the servers) but starts them all.
const STARTING_MS = 300_000;

const base = () => `http://127.0.0.1:${port}`;

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; type: string }> {
  const answer = await fetch(`${base()}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await answer.text();
  const type = answer.headers.get('content-type') ?? '';
  const body = (type.includes('json') ? JSON.parse(text) : { text }) as Record<string, unknown>;
  return { status: answer.status, body, type };
}

/** The demo account printed for `role`: its email and password. */
function account(output: string, role: string): { email: string; password: string } {
  const line = output.split('\n').find((l) => l.trimStart().startsWith(`${role} `));
  const [, email = '', password = ''] = line?.trim().split(/\s+/) ?? [];
  return { email, password };
}

async function signIn(output: string, role: string): Promise<string> {
  const { email, password } = account(output, role);
  const answer = await call('POST', '/auth/token', {
    body: { grant_type: 'password', username: email, password },
  });
  expect(answer.status).toBe(200);
  return String(answer.body.access_token);
}

/** Every process below `root`, and any whose command line names `dir`. */
function processesOf(root: number, dir: string): number[] {
  const parents = new Map<number, number>();
  const named: number[] = [];
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) named.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const below = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, parent] of parents)
      if ((parent === root || below.has(parent)) && !below.has(pid)) {
        below.add(pid);
        grew = true;
      }
  }
  return [...new Set([...below, ...named])];
}

/** The services whose OpenAPI document (services/<name>/openapi.json) has operations. */
function documentedServices(): string[] {
  return readdirSync(join(repoRoot, 'services'))
    .filter((name) => existsSync(join(repoRoot, 'services', name, 'openapi.json')))
    .filter((name) => {
      const doc = JSON.parse(
        readFileSync(join(repoRoot, 'services', name, 'openapi.json'), 'utf8'),
      ) as { paths: object };
      return Object.keys(doc.paths).length > 0;
    })
    .sort();
}

const alive = (pids: number[]) =>
  pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });

beforeAll(async () => {
  port = await freePort();
});

// A test that failed or timed out may leave a start running: stop it as Ctrl-C would,
// then kill what is left of its group. (Jest's global teardown sweeps the rest.)
afterAll(async () => {
  for (const start of starts) {
    if (start.child.exitCode !== null || start.child.signalCode !== null) continue;
    start.child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      start.exited.then(() => true),
      new Promise((resolve) => (timer = setTimeout(resolve, 60_000, false))),
    ]);
    clearTimeout(timer);
    if (!stopped) await killTracked(start.child);
  }
  rmSync(home, { recursive: true, force: true });
}, 120_000);

describe('npm start', () => {
  let first: Start;

  test(
    'brings up the demo marketplace and prints its URLs and demo accounts',
    async () => {
      first = npmStart();
      await running(first);
      const output = first.output();
      for (const step of ['[1/7]', '[2/7]', '[7/7]']) expect(output).toContain(step);
      expect(output).toContain(`API          ${base()}`);
      expect(output).toContain(`Swagger UI   ${base()}/docs/`);
      expect(output).toMatch(/^ {2}Prometheus {3}http:\/\/127\.0\.0\.1:\d+ /m);
      expect(output).toMatch(/Jaeger {7}http:\/\/127\.0\.0\.1:\d+ /);
      for (const role of ['admin', 'seller', 'buyer'])
        expect(account(output, role).email).toMatch(/@demo\.shop\.localhost$/);
    },
    STARTING_MS + 10_000,
  );

  test('serves the API through the gateway, Swagger UI, and 404 problem+json elsewhere', async () => {
    const products = await call('GET', '/products?limit=50');
    expect(products.status).toBe(200);
    expect((products.body.items as { sku: string }[]).map((p) => p.sku).sort()).toEqual([
      'DRILL-18V',
      'GLOVES-L',
      'HAMMER-16',
      'SCREWDRIVER-SET',
      'TAPE-5M',
    ]);
    const docs = await call('GET', '/docs/');
    expect(docs.status).toBe(200);
    expect(docs.body.text).toContain('/openapi/checkout.json');
    const spec = await call('GET', '/openapi/checkout.json');
    expect(spec.body).toMatchObject({ openapi: '3.1.1' });
    expect((await call('GET', '/docs/swagger-ui-bundle.js')).status).toBe(200);
    const unknown = await call('GET', '/no/such/route');
    expect(unknown).toMatchObject({ status: 404, type: 'application/problem+json' });
  });

  test('Swagger UI in headless Chromium lists every operation of every service; screenshots saved', async () => {
    // Each document's page is captured first, so a failure leaves its picture to look at.
    const shots = mkdtempSync(join(tmpdir(), 'gorten-swagger-'));
    try {
      const definitions = definitionNames(await renderedDom(`${base()}/docs/`));
      expect([...definitions].sort()).toEqual(documentedServices());
      for (const name of definitions) {
        const doc = (await call('GET', `/openapi/${name}.json`)).body as {
          info?: { title?: string };
        };
        const page = `${base()}/docs/?urls.primaryName=${encodeURIComponent(name)}`;
        expect(await screenshot(page, join(shots, `${name}.png`))).toMatchObject({
          width: 1280,
          height: 2000,
        });
        await eventually(
          { what: `Swagger UI showing ${name}'s operations`, timeoutMs: 60_000 },
          async () => {
            const dom = await renderedDom(page);
            const errors = renderedErrors(dom);
            if (errors) throw new Error(`Swagger UI shows errors: ${errors}`);
            const title = renderedTitle(dom);
            if (title !== doc.info?.title)
              throw new Error(`it shows "${title}", not ${name}'s document`);
            const missing = missingOperations(doc, dom);
            if (missing.length) throw new Error(`not shown: ${missing.join(', ')}`);
            if (operationCount(doc) === 0) throw new Error('its document declares no operation');
            return true;
          },
        );
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\nScreenshots: ${shots}`, { cause: err });
    }
    rmSync(shots, { recursive: true, force: true });
  }, 300_000);

  test('the demo buyer buys; the order confirmation reaches the mail catcher', async () => {
    const output = first.output();
    const buyer = await signIn(output, 'buyer');
    const products = (await call('GET', '/products?limit=50')).body.items as {
      id: string;
      sku: string;
    }[];
    const hammer = products.find((p) => p.sku === 'HAMMER-16')?.id ?? '';
    expect(
      (await call('PUT', `/carts/me/items/${hammer}`, { token: buyer, body: { quantity: 2 } }))
        .status,
    ).toBe(200);
    // The card goes to the provider's tokenization alone; checkout names the method.
    const method = await call('POST', '/payments/methods', {
      token: buyer,
      body: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' },
    });
    expect(method).toMatchObject({ status: 201, body: { brand: 'visa', last4: '4242' } });
    const checkout = await call('POST', '/checkout', {
      token: buyer,
      headers: { 'idempotency-key': randomUUID() },
      body: { paymentMethod: method.body.id, expectedTotal: 3_980 },
    });
    expect(checkout).toMatchObject({ status: 201, body: { status: 'paid', total: 3_980 } });
    await eventually({ what: 'the order confirmation mail', timeoutMs: 60_000 }, () => {
      const mails = readdirSync(join(home, 'mail')).map((f) =>
        readFileSync(join(home, 'mail', f), 'utf8'),
      );
      return mails.some(
        (m) => m.includes(String(checkout.body.orderId)) && /^To: .*buyer@/m.test(m),
      )
        ? true
        : undefined;
    });
    // The purchase is traced in the Jaeger printed, from the request to the email.
    const jaeger = /Jaeger {7}(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    await eventually({ what: 'the checkout’s trace in Jaeger', timeoutMs: 60_000 }, async () => {
      const answer = await fetch(`${jaeger}/api/traces?service=checkout&lookback=1h`);
      const { data } = (await answer.json()) as {
        data: { spans: { operationName: string }[] }[] | null;
      };
      const spans = (data ?? []).flatMap((t) => t.spans.map((s) => s.operationName));
      return spans.includes('POST /checkout') && spans.includes('smtp send') ? true : undefined;
    });
    // The seller and the admin printed can sign in too.
    await signIn(output, 'seller');
    await signIn(output, 'admin');
  });

  test('its Prometheus scrapes the operator, every service and RabbitMQ: every target up', async () => {
    const url = /^ {2}Prometheus {3}(\S+)/m.exec(first.output())?.[1] ?? '';
    const expected = [
      'gorten-operator',
      ...[...SERVICE_NAMES].sort().map((s) => `gorten-services/${s}`),
      'rabbitmq',
    ];
    type Target = {
      scrapePool: string;
      scrapeUrl: string;
      labels: { service?: string };
      health: string;
    };
    const up = await eventually(
      { what: 'every Prometheus target up', timeoutMs: 60_000 },
      async () => {
        const answer = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
          data: { activeTargets: Target[] };
        };
        const healthy = answer.data.activeTargets.filter((t) => t.health === 'up');
        return healthy.length === expected.length ? healthy : undefined;
      },
    );
    const jobs = up.map((t) => [t.scrapePool, t.labels.service].filter(Boolean).join('/'));
    expect(jobs.sort()).toEqual(expected);
    // The operator gave each service its marketplace (MARKETPLACE): its own series say so.
    for (const target of up.filter((t) => t.scrapePool === 'gorten-services'))
      expect(await (await fetch(target.scrapeUrl)).text()).toContain(
        `process_cpu_seconds_total{service="${target.labels.service}",marketplace="demo"}`,
      );
  });

  test('a second start while one runs, or on a taken port, is refused with what to do', async () => {
    const again = npmStart();
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/already running here \(pid \d+\)/);

    const blocker: Server = createServer();
    const taken = await freePort();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    const other = mkdtempSync(join(tmpdir(), 'gorten-start-other-'));
    try {
      const blocked = npmStart({ GORTEN_PORT: String(taken), GORTEN_HOME: other });
      expect(await blocked.exited).toBe(1);
      expect(blocked.output()).toContain(`Port ${taken} is in use`);
      expect(blocked.output()).toContain('GORTEN_PORT=<port> npm start');
    } finally {
      blocker.close();
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('a client resetting its connection to the mail catcher or the gateway does not stop it', async () => {
    const smtp = new URL(/SMTP (smtp:\/\/\S+)\)/.exec(first.output())?.[1] ?? 'smtp://0');
    const clients = [
      // Reset inside a mail transaction (outside one, smtp-server ignores it), after the
      // banner (a client that talks first is turned away).
      {
        port: Number(smtp.port),
        banner: true,
        say: 'EHLO reset.test\r\nMAIL FROM:<r@demo.test>\r\n',
      },
      {
        port,
        banner: false,
        say: 'POST /checkout HTTP/1.1\r\nhost: x\r\ncontent-length: 99\r\n\r\n{',
      },
    ];
    for (const client of clients) {
      for (let i = 0; i < 3; i++) {
        const socket = connect(client.port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.once(client.banner ? 'data' : 'connect', () => resolve());
        });
        socket.write(client.say);
        await new Promise((resolve) => setTimeout(resolve, 200));
        socket.resetAndDestroy();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(first.child.exitCode).toBeNull();
    expect(first.output()).not.toContain('Stopping');
    expect((await call('GET', '/products?limit=1')).status).toBe(200);
  });

  test('every process it started listens on loopback only', () => {
    const listeners = listenersOf(processesOf(first.child.pid ?? 0, home));
    // Servers, operator, eight services, gateway, mail catcher.
    expect(listeners.length).toBeGreaterThanOrEqual(20);
    expect(listeners.filter((l) => !isLoopback(l.address))).toEqual([]);
  });

  test("every service runs with the services' Node flags, as in its image", () => {
    const services = processesOf(first.child.pid ?? 0, home)
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        } catch {
          return []; // gone meanwhile
        }
      })
      .filter((argv) => argv.some((arg) => /services\/[a-z]+\/src\/main\.ts$/.test(arg)));
    expect(services).toHaveLength(SERVICE_NAMES.length);
    for (const argv of services)
      expect(argv).toEqual(expect.arrayContaining([...SERVICE_NODE_FLAGS]));
  });

  test('Ctrl-C stops every process it started', async () => {
    const started = processesOf(first.child.pid ?? 0, home);
    // The servers, the operator and eight services, at least.
    expect(started.length).toBeGreaterThanOrEqual(15);
    await stop(first);
    await eventually({ what: 'no process left', timeoutMs: 30_000 }, () =>
      alive(started).length === 0 ? true : undefined,
    );
  });

  test(
    'a start killed during step 5 leaves processes that the next start stops; it reuses the data',
    async () => {
      const killed = npmStart();
      await eventually({ what: 'step 5 under way', timeoutMs: STARTING_MS }, () => {
        if (killed.child.exitCode !== null) throw new Error(`it exited: ${killed.output()}`);
        return killed.output().includes('[5/7]') ? true : undefined;
      });
      const left = processesOf(killed.child.pid ?? 0, home);
      process.kill(killed.child.pid ?? 0, 'SIGKILL');
      await killed.exited;
      // The servers, the operator and the services it had started outlive it.
      expect(alive(left).length).toBeGreaterThanOrEqual(10);

      const second = npmStart();
      try {
        await running(second);
        expect(second.output()).toMatch(/stopped \d+ processes an earlier start left running/);
        expect(alive(left)).toEqual([]);
        const products = await call('GET', '/products?limit=50');
        expect((products.body.items as unknown[]).length).toBe(5);
        const buyer = await signIn(second.output(), 'buyer');
        const orders = await call('GET', '/orders', { token: buyer });
        expect((orders.body.items as { status: string }[]).map((o) => o.status)).toEqual(['paid']);
        // The admin's generated password is kept, not replaced.
        expect(account(second.output(), 'admin')).toEqual(account(first.output(), 'admin'));
      } finally {
        await stop(second);
      }
    },
    2 * STARTING_MS,
  );
});
