// Records kept only for a while, against the real FerretDB (no TTL indexes there, so
// periodic tasks delete them): answered Idempotency-Keys, and the messages a consumer
// remembers having handled. What is still in use stays. And the claims left in flight
// by runs that ended: settled past any backlog of running ones, one failure at a time.
import { randomBytes } from 'node:crypto';
import { loadTestEnv } from '@gorten/testenv';
import {
  connectMongo,
  IdempotencyKeys,
  pruneProcessedMessages,
  type IdempotencyRecord,
  type MongoHandle,
} from '../src/index.js';

let mongo: MongoHandle;

beforeAll(async () => {
  const url = new URL(loadTestEnv().mongo.url);
  url.pathname = `/kit_retention_${randomBytes(3).toString('hex')}`;
  mongo = await connectMongo(url.toString(), []);
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

const DAY = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY);

test('answered keys go once past their retention; younger ones and keys in flight stay', async () => {
  const records = mongo.db.collection<IdempotencyRecord<string>>('requests');
  const keys = new IdempotencyKeys(records, { staleAfterMs: 60_000 });
  for (const [id, at] of [
    ['old', daysAgo(10)],
    ['young', daysAgo(1)],
    ['in-flight', daysAgo(10)],
  ] as const) {
    await keys.claim(id, 'h', `run-${id}`, at);
    if (id !== 'in-flight') await keys.finish(id, `run-${id}`, 'answer', at);
  }
  expect(await keys.prune(daysAgo(7))).toBe(1);
  expect((await records.find().toArray()).map((r) => r._id).sort()).toEqual(['in-flight', 'young']);
});

test('messages handled long ago are forgotten; recent ones are still known', async () => {
  const processed = mongo.db.collection<{ _id: string; at: Date }>('processed_messages');
  await processed.insertMany([
    { _id: 'orders-paid:old', at: daysAgo(10) },
    { _id: 'orders-paid:recent', at: daysAgo(1) },
  ]);
  expect(await pruneProcessedMessages(mongo.db, daysAgo(7))).toBe(1);
  expect((await processed.find().toArray()).map((m) => m._id)).toEqual(['orders-paid:recent']);
});

describe('settleStale', () => {
  test('a backlog of running claims older than a page hides no stale claim behind it', async () => {
    const records = mongo.db.collection<IdempotencyRecord<string>>('stale_backlog');
    const keys = new IdempotencyKeys(records, {
      staleAfterMs: 60_000,
      settlementOf: (claim) =>
        Promise.resolve(
          claim.runId.startsWith('running')
            ? { state: 'running' }
            : { state: 'done', result: `answer of ${claim.runId}` },
        ),
    });
    // Five claims still running, all older than the one whose run has ended.
    for (let i = 0; i < 5; i++) await keys.claim(`running-${i}`, 'h', `running-${i}`, daysAgo(3));
    await keys.claim('ended', 'h', 'ended-run', daysAgo(2));
    expect(await keys.settleStale(new Date(), { page: 2 })).toBe(1);
    const ended = await records.findOne({ _id: 'ended' });
    expect(ended).toMatchObject({ state: 'done', result: 'answer of ended-run' });
  });

  test('a claim that fails to settle is reported, and the others are settled', async () => {
    const records = mongo.db.collection<IdempotencyRecord<string>>('stale_failing');
    const keys = new IdempotencyKeys(records, {
      staleAfterMs: 60_000,
      settlementOf: (claim) =>
        claim.runId === 'broken'
          ? Promise.reject(new Error('the run could not be read'))
          : Promise.resolve({ state: 'free' }),
    });
    await keys.claim('first', 'h', 'broken', daysAgo(3));
    await keys.claim('second', 'h', 'fine', daysAgo(2));
    const failures: string[] = [];
    const ended = await keys.settleStale(new Date(), {
      onError: (err, id) => failures.push(`${id}: ${(err as Error).message}`),
    });
    expect(ended).toBe(1);
    expect(failures).toEqual(['first: the run could not be read']);
    expect((await records.find().toArray()).map((r) => r._id)).toEqual(['first']);
  });
});
