// The private data plane the chaos suite breaks: a paused FerretDB answers nothing until
// it is resumed, with its data intact; a restarted broker keeps its durable queues and
// persistent messages; stopping it leaves no process behind.
import { connect } from 'amqplib';
import { MongoClient } from 'mongodb';
import { isAlive } from '../src/pids.js';
import { startDataPlane, type DataPlane } from '../src/index.js';

let plane: DataPlane;
beforeAll(async () => {
  plane = await startDataPlane();
}, 180_000);
afterAll(async () => {
  // beforeAll may have failed before it started
  await (plane as DataPlane | undefined)?.stop();
});

test('a paused database answers nothing until resumed, and keeps what was written', async () => {
  const client = new MongoClient(plane.mongo.url, { serverSelectionTimeoutMS: 2_000 });
  try {
    const docs = client.db('chaos_probe').collection<{ _id: string }>('docs');
    await docs.insertOne({ _id: 'kept' });
    plane.pauseDatabase();
    const during = await Promise.race([
      docs.findOne({ _id: 'kept' }).then(() => 'answered'),
      new Promise((done) => setTimeout(() => done('silent'), 3_000)),
    ]);
    expect(during).toBe('silent');
    plane.resumeDatabase();
    expect(await docs.findOne({ _id: 'kept' })).toEqual({ _id: 'kept' });
  } finally {
    plane.resumeDatabase();
    await client.close();
  }
});

test('a restarted broker keeps its durable quorum queue and the persistent message in it', async () => {
  const queue = 'chaos.probe';
  const before = await connect(plane.rabbitmq.amqpUrl);
  const channel = await before.createConfirmChannel();
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  channel.sendToQueue(queue, Buffer.from('kept'), { persistent: true });
  await channel.waitForConfirms();
  const closed = new Promise((done) => before.once('close', done));
  await plane.restartBroker();
  await closed; // the restart dropped the connection

  const after = await connect(plane.rabbitmq.amqpUrl);
  try {
    const reader = await after.createChannel();
    const message = await reader.get(queue, { noAck: true });
    expect(message && message.content.toString()).toBe('kept');
  } finally {
    await after.close();
  }
});

test('stopping it stops every server it started, the restarted broker included', async () => {
  const pids = plane.processes.map((p) => p.pid);
  expect(plane.processes.map((p) => p.name).sort()).toEqual([
    'epmd',
    'ferretdb',
    'rabbitmq',
    'rabbitmq',
  ]);
  await plane.stop();
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
});
