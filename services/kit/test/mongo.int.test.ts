// MongoDB at start-up against the real FerretDB: indexes are created, and a restart (the
// same indexes again) connects just as well. Traced, the database works as the driver's
// own: chained cursors, a method replaced on a collection, a span per operation in a trace.
import { randomBytes } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { loadTestEnv } from '@gorten/testenv';
import { connectMongo, startTracing, type CollectionIndexes } from '../src/index.js';

const INDEXES: CollectionIndexes[] = [
  {
    collection: 'things',
    indexes: [
      { key: { owner: 1, createdAt: -1 }, name: 'owner_newest' },
      { key: { sku: 1 }, name: 'sku_unique', unique: true },
    ],
  },
];

test('indexes are made at start, and a second start with them in place connects too', async () => {
  const url = new URL(loadTestEnv().mongo.url);
  url.pathname = `/kit_${randomBytes(3).toString('hex')}`;
  const first = await connectMongo(url.toString(), INDEXES);
  const second = await connectMongo(url.toString(), INDEXES);
  try {
    await second.ready();
    const names = (await second.db.collection('things').indexes()).map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['owner_newest', 'sku_unique']));
  } finally {
    await second.db.dropDatabase();
    await Promise.all([first.close(), second.close()]);
  }
});

test('traced, it answers as the driver does, and each operation in a trace is a span', async () => {
  const url = new URL(loadTestEnv().mongo.url);
  url.pathname = `/kit_${randomBytes(3).toString('hex')}`;
  // Enabled, its exports going nowhere: what is queued is what was recorded.
  const tracing = startTracing({
    service: 'kit-test',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    shutdownDeadlineMs: 1_000,
  });
  const mongo = await connectMongo(url.toString(), INDEXES, tracing);
  try {
    const things = mongo.db.collection<{ _id: string; n: number }>('things');
    await things.insertMany([
      { _id: 'a', n: 1 },
      { _id: 'b', n: 2 },
      { _id: 'c', n: 3 },
    ]);
    expect(tracing.queued()).toBe(0); // outside any trace: no span
    const newest = await context.with(tracing.bind(ROOT_CONTEXT), () =>
      tracing.tracer.startActiveSpan('work', async (span) => {
        const found = await things.find({}).sort({ n: -1 }).limit(2).toArray();
        await things.updateOne({ _id: 'a' }, { $inc: { n: 10 } });
        const iterated: string[] = [];
        for await (const thing of things.find({}, { batchSize: 2 })) iterated.push(thing._id);
        expect(iterated.sort()).toEqual(['a', 'b', 'c']);
        span.end();
        return found;
      }),
    );
    expect(newest.map((t) => t._id)).toEqual(['c', 'b']);
    // find, updateOne, the iteration (one span however many reads), and the work itself
    expect(tracing.queued()).toBe(4);

    const read = things.findOne.bind(things);
    const asked: unknown[] = [];
    things.findOne = (async (filter: { _id: string }) => {
      asked.push(filter._id);
      return read(filter);
    }) as typeof things.findOne;
    expect(await things.findOne({ _id: 'a' })).toEqual({ _id: 'a', n: 11 });
    expect(asked).toEqual(['a']);
  } finally {
    await mongo.db.dropDatabase();
    await mongo.close();
    await tracing.shutdown();
  }
});
