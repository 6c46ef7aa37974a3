// Graceful shutdown over real HTTP: requests in flight finish, new ones are refused,
// the service's connections close last.
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
