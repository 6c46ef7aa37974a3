// The outbox port as the relay implements it, without I/O (a collection and a publisher
// made of maps and arrays): an announced document goes out at once, in order, and its
// entries are removed (in one write per pass) — only while the relay runs, and only for
// collections it covers.
import type { Collection } from 'mongodb';
import {
  createLogger,
  OutboxRelay,
  outboxEntry,
  type EventEnvelope,
  type Outbox,
  type OutboxEntry,
  type WithOutbox,
} from '../src/index.js';

const log = createLogger('test', 'silent');

/**
 * The two calls a relay makes for one document: read its outbox, pull the entries it
 * published (each pull is recorded in `pulls`, by the events' data).
 */
function collectionOf(
  namespace: string,
  outboxes: Map<string, OutboxEntry[]>,
  pulls: unknown[][] = [],
) {
  return {
    namespace,
    findOne: (filter: { _id: string }) =>
      Promise.resolve({ outbox: [...(outboxes.get(filter._id) ?? [])] }),
    updateOne: (filter: { _id: string }, update: { $pullAll: { outbox: OutboxEntry[] } }) => {
      const ids = new Set(update.$pullAll.outbox.map((e) => e.id));
      const left = (outboxes.get(filter._id) ?? []).filter((e) => !ids.has(e.id));
      outboxes.set(filter._id, left);
      pulls.push(update.$pullAll.outbox.map((e) => e.event.data));
      return Promise.resolve({ matchedCount: 1 });
    },
  } as unknown as Collection<WithOutbox>;
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

test('the relay as a service’s outbox: announced documents go out at once while it runs', async () => {
  const entries = ['a', 'b'].map((name) =>
    outboxEntry('x', 'thing.updated', 'thing.updated', name),
  );
  const outboxes = new Map([['t1', entries]]);
  const elsewhere = new Map([['e1', [outboxEntry('x', 'thing.updated', 'thing.updated', 'e')]]]);
  const things = collectionOf('db.things', outboxes);
  const published: EventEnvelope[] = [];
  const relay = new OutboxRelay(
    [things],
    { publish: (_exchange, _key, event) => Promise.resolve(void published.push(event)) },
    log,
    600_000,
  );
  const outbox: Outbox = relay;

  outbox.announce(things, 't1'); // not started: left to a sweep
  await settled();
  expect(published).toEqual([]);

  relay.start();
  outbox.announce(things, 't1');
  outbox.announce(collectionOf('db.elsewhere', elsewhere), 'e1'); // not covered
  await relay.stop(); // waits for the runs in progress
  expect(published).toEqual(entries.map((e) => e.event));
  expect(outboxes.get('t1')).toEqual([]);
  expect(elsewhere.get('e1')).toHaveLength(1);

  outboxes.set('t1', entries);
  outbox.announce(things, 't1'); // stopped: left to a sweep
  await settled();
  expect(published).toHaveLength(2);
});

test('a document’s events are removed in one write per pass; those confirmed before a failure are removed too', async () => {
  const entries = ['a', 'b', 'c'].map((name) =>
    outboxEntry('x', 'thing.updated', 'thing.updated', name),
  );
  const outboxes = new Map([['t1', entries]]);
  const pulls: unknown[][] = [];
  const things = collectionOf('db.things', outboxes, pulls);
  let brokerDown = false;
  const relay = new OutboxRelay(
    [things],
    {
      publish: (_exchange, _key, event) =>
        brokerDown && event.data === 'c'
          ? Promise.reject(new Error('broker away'))
          : Promise.resolve(),
    },
    log,
    600_000,
  );
  relay.start();
  relay.announce(things, 't1');
  await relay.stop();
  expect(pulls).toEqual([['a', 'b', 'c']]);

  outboxes.set('t1', entries);
  pulls.length = 0;
  brokerDown = true;
  relay.start();
  relay.announce(things, 't1');
  await relay.stop();
  // c failed: a and b, confirmed, are gone; c waits for the next try.
  expect(pulls).toEqual([['a', 'b']]);
  expect(outboxes.get('t1')?.map((e) => e.event.data)).toEqual(['c']);
});
