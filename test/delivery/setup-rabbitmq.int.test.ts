// rabbitmq/setup-rabbitmq.sh against the real test broker, run as users run it: a child
// process configured by environment variables. It logs in with the broker's bootstrap
// account (guest, as the test environment leaves it), prepares a vhost of this run, and
// everything it should have written is read back through the management API.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestEnv, spawnTracked } from '@gorten/testenv';
import { tenantTopology, type Exchange, type Queue } from '@gorten/operator';

const SCRIPT = join(import.meta.dirname, '..', '..', 'rabbitmq', 'setup-rabbitmq.sh');
const env = loadTestEnv();
const management = new URL(env.rabbitmq.managementUrl);
const topology = tenantTopology();

const run = randomBytes(3).toString('hex');
const vhost = `setup-rabbitmq-${run}`;
const conflictVhost = `setup-rabbitmq-conflict-${run}`;
const adminUser = `setup-admin-${run}`;
// Quotes, a backslash, a colon and a space: what breaks naive quoting of credentials.
const adminPassword = `pw "${randomBytes(6).toString('hex')}"\\:x`;
const tempDir = mkdtempSync(join(tmpdir(), 'setup-rabbitmq-'));

const enc = encodeURIComponent;

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A management API call as the test broker's administrator (or `as` someone else). */
async function api(
  method: string,
  path: string,
  body?: unknown,
  as = { user: env.rabbitmq.user, password: env.rabbitmq.password },
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${env.rabbitmq.managementUrl}/api${path}`, {
    method,
    headers: {
      authorization: basic(as.user, as.password),
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

async function get<T>(path: string): Promise<T> {
  const { status, json } = await api('GET', path);
  if (status !== 200) throw new Error(`GET ${path}: HTTP ${status} ${JSON.stringify(json)}`);
  return json as T;
}

interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** The passwords this run was given, none of which its output may show. */
  secrets: string[];
}

/** Runs the script with only PATH and `vars` in its environment (no RABBITMQ_* leaks in). */
async function setup(vars: Record<string, string>, args: string[] = []): Promise<ScriptRun> {
  const began = Date.now();
  const child = spawnTracked('setup-rabbitmq.sh', SCRIPT, args, {
    env: { PATH: process.env.PATH, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  // guest's password is its name, which the output rightly shows: that one cannot be checked.
  const names = [vars.RABBITMQ_USER, vars.RABBITMQ_BOOTSTRAP_USER];
  const secrets = [vars.RABBITMQ_PASSWORD, vars.RABBITMQ_BOOTSTRAP_PASSWORD].filter(
    (secret): secret is string => secret !== undefined && !names.includes(secret),
  );
  return { code, stdout, stderr, elapsedMs: Date.now() - began, secrets };
}

const brokerVars = {
  RABBITMQ_HOST: management.hostname,
  RABBITMQ_PORT: management.port,
  RABBITMQ_USER: adminUser,
  RABBITMQ_PASSWORD: adminPassword,
  // The test broker's administrator is RabbitMQ's default account, which the script
  // uses by default to bootstrap: stated here so the test says what it relies on.
  RABBITMQ_BOOTSTRAP_USER: env.rabbitmq.user,
  RABBITMQ_BOOTSTRAP_PASSWORD: env.rabbitmq.password,
};

function expectSuccess(result: ScriptRun): void {
  if (result.code !== 0) {
    throw new Error(`setup-rabbitmq.sh exited ${result.code}:\n${result.stdout}${result.stderr}`);
  }
  expectNoPasswords(result);
}

function expectNoPasswords(result: ScriptRun): void {
  for (const secret of result.secrets) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

/** The failure contract: non-zero exit and exactly one line on stderr, from the script. */
function expectOneLineFailure(result: ScriptRun): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^setup-rabbitmq\.sh: error: /);
  expectNoPasswords(result);
  return lines[0]!;
}

/** As the management API lists them; a queue also says its type. */
type LiveExchange = Exchange;
type LiveQueue = Queue & { type: string };
interface LiveBinding {
  routing_key: string;
  arguments: Record<string, unknown>;
}

/** Every exchange, queue (with its arguments) and binding of topology.json is in `where`. */
async function expectTopology(where: string): Promise<void> {
  const v = enc(where);
  for (const wanted of topology.exchanges) {
    const live = await get<LiveExchange>(`/exchanges/${v}/${enc(wanted.name)}`);
    const { name, type, durable, auto_delete, internal, arguments: args } = live;
    expect({ name, type, durable, auto_delete, internal, arguments: args }).toEqual(wanted);
  }
  for (const wanted of topology.queues) {
    const live = await get<LiveQueue>(`/queues/${v}/${enc(wanted.name)}`);
    expect(live.durable).toBe(wanted.durable);
    expect(live.auto_delete).toBe(wanted.auto_delete);
    expect(live.arguments).toEqual(wanted.arguments);
    expect(live.type).toBe(wanted.arguments['x-queue-type'] ?? 'classic');
  }
  // The file's promises spelt out, so a file that lost them fails here too.
  const orderCreated = await get<LiveQueue>(`/queues/${v}/order_created`);
  expect(orderCreated.type).toBe('quorum');
  expect(orderCreated.arguments).toMatchObject({
    'x-dead-letter-exchange': 'dead_letter_exchange',
    'x-delivery-limit': 5,
  });
  for (const wanted of topology.bindings) {
    const kind = wanted.destination_type === 'queue' ? 'q' : 'e';
    const live = await get<LiveBinding[]>(
      `/bindings/${v}/e/${enc(wanted.source)}/${kind}/${enc(wanted.destination)}`,
    );
    expect(live).toContainEqual(
      expect.objectContaining({ routing_key: wanted.routing_key, arguments: wanted.arguments }),
    );
  }
}

async function expectAdministrator(user: string, password: string): Promise<void> {
  const whoami = await api('GET', '/whoami', undefined, { user, password });
  expect(whoami.status).toBe(200);
  const identity = whoami.json as { name: string; tags: string[] };
  expect(identity.name).toBe(user);
  expect(identity.tags).toContain('administrator');
  const permissions = await get<Record<string, string>>(`/permissions/${enc(vhost)}/${enc(user)}`);
  expect(permissions).toMatchObject({ configure: '.*', write: '.*', read: '.*' });
}

/** What a run could change: the user record (its salted hash changes on every write) and the vhost's objects. */
async function brokerState(): Promise<unknown> {
  const v = enc(vhost);
  return {
    user: await get(`/users/${enc(adminUser)}`),
    permissions: await get(`/permissions/${v}/${enc(adminUser)}`),
    exchanges: await get(
      `/exchanges/${v}?columns=name,type,durable,auto_delete,internal,arguments`,
    ),
    queues: await get(`/queues/${v}?columns=name,type,durable,auto_delete,arguments`),
    bindings: await get(`/bindings/${v}?columns=source,destination,routing_key,arguments`),
  };
}

/** A port on which nothing listens: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  server.close();
  await once(server, 'close');
  return address.port;
}

afterAll(async () => {
  for (const name of [vhost, conflictVhost]) await api('DELETE', `/vhosts/${enc(name)}`);
  await api('DELETE', `/users/${enc(adminUser)}`);
  rmSync(tempDir, { recursive: true, force: true });
});

describe('setup-rabbitmq.sh', () => {
  test('--help describes the settings and exits 0', async () => {
    const result = await setup({}, ['--help']);
    expect(result.code).toBe(0);
    for (const name of ['RABBITMQ_HOST', 'RABBITMQ_VHOST', 'RABBITMQ_BOOTSTRAP_USER', 'WAIT_TIME'])
      expect(result.stdout).toContain(name);
  });

  test('a first run creates the vhost, the admin user and the whole topology', async () => {
    expect((await api('GET', `/vhosts/${enc(vhost)}`)).status).toBe(404);

    const result = await setup({ ...brokerVars, RABBITMQ_VHOST: vhost });

    expectSuccess(result);
    expect(result.stdout).toContain(`logged in as bootstrap user ${env.rabbitmq.user}`);
    expect((await api('GET', `/vhosts/${enc(vhost)}`)).status).toBe(200);
    await expectAdministrator(adminUser, adminPassword);
    await expectTopology(vhost);
  });

  test('a second run exits 0 as the admin user and changes nothing', async () => {
    const before = await brokerState();

    const result = await setup({ ...brokerVars, RABBITMQ_VHOST: vhost });

    expectSuccess(result);
    expect(result.stdout).toContain(`logged in as ${adminUser}, already an administrator`);
    expect(result.stdout).toContain('0 declared by this run');
    expect(await brokerState()).toEqual(before);
    await expectAdministrator(adminUser, adminPassword);
    await expectTopology(vhost);
  });

  test('a queue that exists with other arguments is a clear error, and nothing is declared', async () => {
    expect((await api('PUT', `/vhosts/${enc(conflictVhost)}`, {})).status).toBe(201);
    const classic = { durable: true, auto_delete: false, arguments: {} };
    const declared = await api('PUT', `/queues/${enc(conflictVhost)}/order_paid`, classic);
    expect(declared.status).toBe(201);

    const result = await setup({ ...brokerVars, RABBITMQ_VHOST: conflictVhost });

    const message = expectOneLineFailure(result);
    expect(message).toContain('queue order_paid exists as');
    expect(message).toContain('"x-queue-type":"quorum"');
    expect(message).toContain('delete them (or align the file)');
    const queue = await get<LiveQueue>(`/queues/${enc(conflictVhost)}/order_paid`);
    expect(queue.type).toBe('classic');
    expect(queue.arguments).toEqual({});
    const exchange = await api('GET', `/exchanges/${enc(conflictVhost)}/order_exchange`);
    expect(exchange.status).toBe(404);
  });

  test('wrong credentials fail with a message naming the users and what to set', async () => {
    const result = await setup({
      ...brokerVars,
      RABBITMQ_VHOST: vhost,
      RABBITMQ_PASSWORD: 'not-the-password',
      RABBITMQ_BOOTSTRAP_PASSWORD: 'not-guest-either',
    });

    const message = expectOneLineFailure(result);
    expect(message).toContain(`refused both ${adminUser} (RABBITMQ_PASSWORD)`);
    expect(message).toContain(`bootstrap user ${env.rabbitmq.user}`);
    await expectAdministrator(adminUser, adminPassword);
  });

  test('a closed port fails within WAIT_TIME with a message naming the address', async () => {
    const port = await closedPort();

    const result = await setup({ ...brokerVars, RABBITMQ_PORT: String(port), WAIT_TIME: '2' });

    const message = expectOneLineFailure(result);
    expect(message).toContain(`127.0.0.1:${port} did not answer within 2s`);
    expect(message).toContain('RABBITMQ_PORT');
    // bash counts whole seconds, so a 2 s wait may end after a little more than 1 s.
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1_000);
    expect(result.elapsedMs).toBeLessThan(10_000);
  });

  test('an invalid topology file fails before the broker is contacted', async () => {
    const broken = join(tempDir, 'broken.json');
    writeFileSync(broken, '{"exchanges": [');
    const dangling = join(tempDir, 'dangling.json');
    writeFileSync(
      dangling,
      JSON.stringify({
        exchanges: topology.exchanges,
        queues: [{ name: 'q', durable: true, auto_delete: false, arguments: [] }],
        bindings: [{ ...topology.bindings[0]!, destination: 'nowhere' }],
      }),
    );
    // A closed port with a long wait: only a check made before waiting fails fast.
    const unreachable = { RABBITMQ_HOST: '127.0.0.1', RABBITMQ_PORT: String(await closedPort()) };

    const notJson = await setup({
      ...unreachable,
      WAIT_TIME: '60',
      RABBITMQ_TOPOLOGY_FILE: broken,
    });
    expect(expectOneLineFailure(notJson)).toContain(`topology file ${broken} is not valid JSON`);
    expect(notJson.elapsedMs).toBeLessThan(10_000);

    const invalid = await setup({
      ...unreachable,
      WAIT_TIME: '60',
      RABBITMQ_TOPOLOGY_FILE: dangling,
    });
    const message = expectOneLineFailure(invalid);
    expect(message).toContain(`topology file ${dangling} is invalid`);
    expect(message).toContain('queues[0].arguments must be an object');
    expect(message).toContain('bindings[0] names nowhere, which the file does not declare');
    expect(invalid.elapsedMs).toBeLessThan(10_000);
  });

  test('a new password resets the existing admin user and keeps its other tags', async () => {
    const userPath = `/users/${enc(adminUser)}`;
    const tagged = await api('PUT', userPath, {
      password: adminPassword,
      tags: 'administrator,monitoring',
    });
    expect(tagged.status).toBe(204);
    const newPassword = `new-${randomBytes(6).toString('hex')}`;

    const result = await setup({
      ...brokerVars,
      RABBITMQ_VHOST: vhost,
      RABBITMQ_PASSWORD: newPassword,
    });

    expectSuccess(result);
    expect(result.stdout).toContain(`user ${adminUser} updated`);
    await expectAdministrator(adminUser, newPassword);
    const old = await api('GET', '/whoami', undefined, {
      user: adminUser,
      password: adminPassword,
    });
    expect(old.status).toBe(401);
    const user = await get<{ tags: string[] }>(userPath);
    expect([...user.tags].sort()).toEqual(['administrator', 'monitoring']);
  });
});
