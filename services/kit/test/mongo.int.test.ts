// MongoDB at start-up against the real FerretDB: indexes are created, and a restart (the
// same indexes again) connects just as well.
import { randomBytes } from 'node:crypto';
import { loadTestEnv } from '@gorten/testenv';
import { connectMongo, type CollectionIndexes } from '../src/index.js';

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
