// Graceful shutdown over real HTTP: requests in flight finish, new ones are refused,
// the service's connections close last.
import { connect } from 'node:net';
import Koa from 'koa';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, serve } from '../src/index.js';

const log = createLogger('test', 'silent');

test('close lets the request in flight finish, refuses new ones, then runs onClose', async () => {
  const app = new Koa();
  const order: string[] = [];
  let arrived!: () => void;
  const handling = new Promise<void>((resolve) => (arrived = resolve));
  app.use(async (ctx) => {
    arrived();
    await sleep(300);
    ctx.body = 'done';
    ctx.res.on('finish', () => order.push('response sent'));
  });
  const server = await serve(app, {
    port: 0,
    log,
    shutdownTimeoutMs: 5_000,
    onClose: () => Promise.resolve(void order.push('onClose')),
  });
  const inFlight = fetch(`http://127.0.0.1:${server.port}/`).then((r) => r.text());
  await handling; // a fixed pause is not enough on a busy machine
  const closed = server.close().then(() => order.push('closed'));
  await sleep(20);
  await expect(fetch(`http://127.0.0.1:${server.port}/`)).rejects.toThrow();
  expect(await inFlight).toBe('done');
  await closed;
  expect(order).toEqual(['response sent', 'onClose', 'closed']);
});

test('a request that outlives the deadline is cut off', async () => {
  const app = new Koa();
  let arrived!: () => void;
  const handling = new Promise<void>((resolve) => (arrived = resolve));
  app.use(async (ctx) => {
    arrived();
    await sleep(5_000, undefined, { ref: false }); // unref: the test ends before it does
    ctx.body = 'too late';
  });
  const server = await serve(app, { port: 0, log, shutdownTimeoutMs: 200 });
  const slow = fetch(`http://127.0.0.1:${server.port}/`);
  await handling;
  const started = Date.now();
  await server.close();
  expect(Date.now() - started).toBeLessThan(2_000);
  await expect(slow).rejects.toThrow();
});

/** Sends bytes as they are (no client would send these) and reads the answer to the end. */
async function rawExchange(port: number, bytes: string): Promise<{ head: string; body: string }> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  return { head, body };
}

test('what Node cannot parse is answered in problem+json: an unknown method 501, a garbled request 400, huge headers 431', async () => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = 'reached the app';
  });
  const server = await serve(app, { port: 0, log, shutdownTimeoutMs: 1_000 });
  try {
    const cases = [
      { bytes: 'BREW /coffee HTTP/1.1\r\nHost: a\r\n\r\n', status: 501, title: 'Not Implemented' },
      { bytes: 'GET / HTTP/1.1\r\nHost a\r\n\r\n', status: 400, title: 'Bad Request' },
      {
        bytes: `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`,
        status: 431,
        title: 'Request Header Fields Too Large',
      },
    ];
    for (const { bytes, status, title } of cases) {
      const { head, body } = await rawExchange(server.port, bytes);
      expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${title}`);
      expect(head).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
      expect(JSON.parse(body)).toEqual({
        type: 'about:blank',
        title,
        status,
        detail: expect.any(String) as unknown,
      });
    }
  } finally {
    await server.close();
  }
});
