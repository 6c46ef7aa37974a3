// RabbitMQ is real: quorum queues with dead-lettering, publisher confirms, manual acks,
// the management HTTP API the operator uses for vhosts and users, and the
// rabbitmq_prometheus plugin's per-queue figures on loopback.
import { randomBytes } from 'node:crypto';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { eventually, loadTestEnv } from '../src/index.js';

const env = loadTestEnv();
const suffix = randomBytes(3).toString('hex');
const authorization = `Basic ${Buffer.from(`${env.rabbitmq.user}:${env.rabbitmq.password}`).toString('base64')}`;

function management(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${env.rabbitmq.managementUrl}${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

let connection: ChannelModel;
let channel: ConfirmChannel;
beforeAll(async () => {
  connection = await connect(env.rabbitmq.amqpUrl);
  channel = await connection.createConfirmChannel();
});
afterAll(async () => {
  await connection.close();
});

test('a nacked message from a quorum queue is dead-lettered; an acked one is gone', async () => {
  const [dlx, dlq, work] = [`smoke.dlx.${suffix}`, `smoke.dlq.${suffix}`, `smoke.work.${suffix}`];
  await channel.assertExchange(dlx, 'fanout', { durable: true });
  await channel.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(dlq, dlx, '');
  const declared = await channel.assertQueue(work, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': dlx, 'x-delivery-limit': 3 },
  });
  expect(declared.queue).toBe(work);

  channel.sendToQueue(work, Buffer.from('good'), { persistent: true, messageId: 'm1' });
  channel.sendToQueue(work, Buffer.from('poison'), { persistent: true, messageId: 'm2' });
  await channel.waitForConfirms();

  const received: string[] = [];
  const { consumerTag } = await channel.consume(
    work,
    (msg) => {
      if (!msg) return;
      received.push(msg.content.toString());
      if (msg.content.toString() === 'good') channel.ack(msg);
      else channel.nack(msg, false, false);
    },
    { noAck: false },
  );
  await eventually({ what: 'both messages consumed', timeoutMs: 10_000 }, () =>
    received.length === 2 ? true : undefined,
  );
  await channel.cancel(consumerTag);
  expect(received).toEqual(['good', 'poison']);

  const dead = await eventually(
    { what: 'poison message in the DLQ', timeoutMs: 10_000 },
    async () => {
      const msg = await channel.get(dlq, { noAck: true });
      return msg === false ? undefined : msg;
    },
  );
  expect(dead.content.toString()).toBe('poison');
  expect(dead.properties.messageId).toBe('m2');
  expect(await channel.checkQueue(work)).toMatchObject({ messageCount: 0 });
  await channel.deleteQueue(work);
  await channel.deleteQueue(dlq);
  await channel.deleteExchange(dlx);
});

test('the management API creates a vhost and a user limited to it, and deletes both', async () => {
  const vhost = `smoke-${suffix}`;
  const user = `smoke-user-${suffix}`;
  const password = randomBytes(12).toString('hex');
  expect((await management('PUT', `/api/vhosts/${vhost}`)).status).toBe(201);
  expect((await management('PUT', `/api/users/${user}`, { password, tags: '' })).status).toBe(201);
  const perms = { configure: '.*', write: '.*', read: '.*' };
  expect((await management('PUT', `/api/permissions/${vhost}/${user}`, perms)).status).toBe(201);

  const url = new URL(env.rabbitmq.amqpUrl);
  url.username = user;
  url.password = password;
  url.pathname = `/${vhost}`;
  const asUser = await connect(url.toString());
  const ch = await asUser.createChannel();
  await ch.assertQueue('inside', { durable: true });
  await asUser.close();
  // The same user has no access to the default vhost.
  url.pathname = '/';
  await expect(connect(url.toString())).rejects.toThrow(
    /ConnectionClose|NOT_ALLOWED|ACCESS_REFUSED/,
  );

  expect((await management('DELETE', `/api/users/${user}`)).status).toBe(204);
  expect((await management('DELETE', `/api/vhosts/${vhost}`)).status).toBe(204);
  expect((await management('GET', `/api/vhosts/${vhost}`)).status).toBe(404);
  expect((await management('GET', `/api/users/${user}`)).status).toBe(404);
});

test('the Prometheus plugin serves per-queue depths on loopback, by vhost and queue', async () => {
  const { hostname } = new URL(env.rabbitmq.prometheusUrl);
  expect(hostname).toBe('127.0.0.1');
  const queue = `smoke.depth.${suffix}`;
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  try {
    for (const body of ['one', 'two', 'three']) channel.sendToQueue(queue, Buffer.from(body));
    await channel.waitForConfirms();
    const sample = `rabbitmq_detailed_queue_messages_ready{vhost="/",queue="${queue}"} 3`;
    await eventually({ what: sample, timeoutMs: 15_000 }, async () => {
      const url = `${env.rabbitmq.prometheusUrl}/metrics/detailed?family=queue_coarse_metrics`;
      const text = await (await fetch(url)).text();
      return text.split('\n').includes(sample) ? true : undefined;
    });
    // The aggregate endpoint answers too (what the rabbitmq job scrapes besides).
    expect(await (await fetch(`${env.rabbitmq.prometheusUrl}/metrics`)).text()).toContain(
      'rabbitmq_queues',
    );
  } finally {
    await channel.deleteQueue(queue);
  }
});
