// The pure parts of npm start: routing like the operator's Kong routes, resolving a
// Deployment's environment, reading a caught mail, the Node check, the port a child reports,
// the numbered steps.
import { serviceFor } from '../src/gateway.js';
import { summarize } from '../src/mail.js';
import { checkNode, StartRefused } from '../src/preflight.js';
import { reportedPort } from '../src/processes.js';
import { Progress } from '../src/progress.js';
import { resolveEnv, serviceEnvironments } from '../src/tenant.js';

test('routes by the operator’s table: public reads, protected writes, nothing else', () => {
  expect(serviceFor('GET', '/products')).toBe('catalog');
  expect(serviceFor('POST', '/products/prd_1')).toBe('catalog');
  expect(serviceFor('GET', '/inventory/companies/co_1')).toBe('catalog');
  expect(serviceFor('POST', '/auth/token')).toBe('users');
  expect(serviceFor('GET', '/me')).toBe('users');
  expect(serviceFor('PUT', '/carts/me/items/prd_1')).toBe('carts');
  expect(serviceFor('POST', '/checkout')).toBe('checkout');
  // A prefix is a whole path segment; unknown paths have no service.
  expect(serviceFor('GET', '/productsx')).toBeUndefined();
  expect(serviceFor('GET', '/')).toBeUndefined();
  expect(serviceFor('GET', '/admin')).toBeUndefined();
});

const configMaps = { 'tenant-config': { CURRENCY: 'EUR', HTTP_PORT: '8080' } };
const secrets = {
  'mongodb-credentials': { uri: 'mongodb://u:p@h/db' },
  'admin-credentials': { email: 'admin@x.example', password: 'pw' },
};

test('a container’s environment resolves from its ConfigMap and Secrets, env over envFrom', () => {
  const env = resolveEnv(
    {
      name: 'users',
      envFrom: [{ configMapRef: { name: 'tenant-config' } }],
      env: [
        { name: 'SERVICE', value: 'users' },
        { name: 'HTTP_PORT', value: '9000' },
        {
          name: 'MONGODB_URI',
          valueFrom: { secretKeyRef: { name: 'mongodb-credentials', key: 'uri' } },
        },
        {
          name: 'BOOTSTRAP_ADMIN_EMAIL',
          valueFrom: { secretKeyRef: { name: 'admin-credentials', key: 'email' } },
        },
      ],
    },
    configMaps,
    secrets,
  );
  expect(env).toEqual({
    CURRENCY: 'EUR',
    HTTP_PORT: '9000',
    SERVICE: 'users',
    MONGODB_URI: 'mongodb://u:p@h/db',
    BOOTSTRAP_ADMIN_EMAIL: 'admin@x.example',
  });
});

test('a reference to a missing Secret key or object is an error naming it', () => {
  const missingKey = {
    name: 'orders',
    env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'mongodb-credentials', key: 'nope' } } }],
  };
  expect(() => resolveEnv(missingKey, configMaps, secrets)).toThrow(
    'orders: Secret mongodb-credentials has no key nope',
  );
  expect(() =>
    resolveEnv(
      { name: 'orders', envFrom: [{ configMapRef: { name: 'gone' } }] },
      configMaps,
      secrets,
    ),
  ).toThrow('orders: envFrom names a missing object gone');
});

test('each Deployment is keyed by the service its container runs', () => {
  const deployment = (service: string) => ({
    spec: {
      template: {
        spec: {
          containers: [
            { name: service, args: [service], env: [{ name: 'SERVICE', value: service }] },
          ],
        },
      },
    },
  });
  const envs = serviceEnvironments(
    [deployment('carts'), deployment('orders')],
    configMaps,
    secrets,
  );
  expect([...envs.keys()]).toEqual(['carts', 'orders']);
  expect(envs.get('orders')).toEqual({ SERVICE: 'orders' });
});

test('a caught mail is summarized by its To and (folded) Subject headers', () => {
  const raw =
    'From: shop@x\r\nTo: buyer@x.example\r\nSubject: Your order\r\n ord_1 is confirmed\r\n\r\nSubject: not a header';
  expect(summarize(raw)).toEqual({
    to: 'buyer@x.example',
    subject: 'Your order ord_1 is confirmed',
  });
});

test("Node older than package.json's engines.node is refused with what to do", () => {
  expect(() => checkNode('20.20.2')).toThrow(StartRefused);
  expect(() => checkNode('24.10.0')).toThrow(StartRefused);
  expect(() => checkNode('20.19.0', '24.11')).toThrow(
    'Node.js >= 24.11 is needed (this is 20.19.0)',
  );
  expect(() => checkNode('18.20.0')).toThrow('eval "$(bash tools/node/runtime.sh env)"');
  expect(() => checkNode('24.11.0', '24.11')).not.toThrow();
  expect(() => checkNode('24.22.3')).not.toThrow();
  expect(() => checkNode('26.1.0')).not.toThrow();
});

describe('the port a child reports', () => {
  test('is read from its first pino "listening" line', () => {
    const log = [
      'not json "listening"',
      JSON.stringify({ level: 30, msg: 'connected', port: 1 }),
      JSON.stringify({ level: 30, msg: 'listening', port: 43117 }),
      JSON.stringify({ level: 30, msg: 'listening', port: 2 }),
    ].join('\n');
    expect(reportedPort(log)).toBe(43117);
    expect(reportedPort('{"msg":"listening","port":"80"}')).toBeUndefined();
    expect(reportedPort('')).toBeUndefined();
  });
});

test('steps are numbered out of the total, and after Ctrl-C the next one refuses to begin', async () => {
  const lines: string[] = [];
  const out = { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream;
  const progress = new Progress(2, out);
  expect(await progress.run('First', () => Promise.resolve(1))).toBe(1);
  expect(lines[0]).toBe('[1/2] First …\n');
  expect(lines[1]).toMatch(/^ {6}done in \d+\.\d s\n$/);
  progress.interrupted = true;
  let ran = false;
  await expect(
    progress.run('Second', () => {
      ran = true;
      return Promise.resolve();
    }),
  ).rejects.toThrow(StartRefused);
  expect(ran).toBe(false);
  expect(lines).toHaveLength(2);
});
