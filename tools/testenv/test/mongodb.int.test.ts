// FerretDB answers the official mongodb driver like MongoDB does for what Gorten uses.
import { randomBytes } from 'node:crypto';
import { MongoClient, MongoServerError } from 'mongodb';
import { loadTestEnv } from '../src/index.js';

const env = loadTestEnv();
const client = new MongoClient(env.mongo.url);
const db = client.db(`smoke_${randomBytes(3).toString('hex')}`);

afterAll(async () => {
  await db.dropDatabase();
  await client.close();
});

test('a document is inserted and read back', async () => {
  const items = db.collection<{ _id: string; name: string; tags: string[] }>('items');
  await items.insertOne({ _id: 'a', name: 'Kettle', tags: ['kitchen'] });
  await expect(items.findOne({ _id: 'a' })).resolves.toEqual({
    _id: 'a',
    name: 'Kettle',
    tags: ['kitchen'],
  });
});

test('a unique index rejects a duplicate', async () => {
  const products = db.collection('products');
  await products.createIndex({ companyId: 1, sku: 1 }, { unique: true }, undefined);
  await products.insertOne({ companyId: 'c1', sku: 'X-1' });
  await products.insertOne({ companyId: 'c2', sku: 'X-1' }); // another company: allowed
  const duplicate = products.insertOne({ companyId: 'c1', sku: 'X-1' });
  await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
  await expect(duplicate).rejects.toMatchObject({ code: 11000 });
  expect(await products.countDocuments({ sku: 'X-1' })).toBe(2);
});

test('a conditional $inc never takes stock below zero', async () => {
  const stock = db.collection<{ _id: string; stock: number }>('stock');
  await stock.insertOne({ _id: 'p1', stock: 5 });
  const take = (n: number) =>
    stock.findOneAndUpdate(
      { _id: 'p1', stock: { $gte: n } },
      { $inc: { stock: -n } },
      { returnDocument: 'after' },
    );
  await expect(take(3)).resolves.toEqual({ _id: 'p1', stock: 2 });
  await expect(take(3)).resolves.toBeNull();
  await expect(take(2)).resolves.toEqual({ _id: 'p1', stock: 0 });
  await expect(take(1)).resolves.toBeNull();
  expect(await stock.findOne({ _id: 'p1' })).toEqual({ _id: 'p1', stock: 0 });
});

// FerretDB 1.24 as released loses concurrent updates of one document; build-servers.sh
// patches it to apply writes one at a time, as MongoDB's document-level atomicity does.
test('concurrent updates of one document all apply, and a conditional one never oversells', async () => {
  const counters = db.collection<{ _id: string; n: number; stock: number; takers: number[] }>(
    'counters',
  );
  await counters.insertOne({ _id: 'c1', n: 0, stock: 10, takers: [] });
  await Promise.all(
    Array.from({ length: 100 }, () => counters.updateOne({ _id: 'c1' }, { $inc: { n: 1 } })),
  );
  const taken = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      counters.findOneAndUpdate(
        { _id: 'c1', stock: { $gte: 1 } },
        { $inc: { stock: -1 }, $push: { takers: i } },
        { returnDocument: 'after' },
      ),
    ),
  );
  expect(taken.filter((t) => t !== null)).toHaveLength(10);
  const after = await counters.findOne({ _id: 'c1' });
  expect(after).toMatchObject({ n: 100, stock: 0 });
  expect(after?.takers).toHaveLength(10);
});

// build-servers.sh also lets FerretDB look a document up by the _id index for any filter
// that names _id; the rest of the filter must still decide, for every kind of command.
test('a filter naming _id and more matches only when all of it holds', async () => {
  const docs = db.collection<{ _id: string; version: number; seen?: boolean }>('versions');
  await docs.insertMany([
    { _id: 'd1', version: 1 },
    { _id: 'd2', version: 1 },
  ]);
  const stale = { _id: 'd1', version: 2 };
  expect(await docs.findOne(stale)).toBeNull();
  expect(await docs.countDocuments(stale)).toBe(0);
  expect(await docs.distinct('_id', stale)).toEqual([]);
  expect((await docs.updateOne(stale, { $set: { seen: true } })).matchedCount).toBe(0);
  expect(await docs.findOneAndUpdate(stale, { $set: { seen: true } })).toBeNull();
  expect((await docs.deleteOne(stale)).deletedCount).toBe(0);
  expect(
    (await docs.updateOne({ _id: 'd1', version: 1 }, { $inc: { version: 1 } })).modifiedCount,
  ).toBe(1);
  expect(await docs.findOne({ _id: 'd1', version: { $gt: 1 } })).toEqual({ _id: 'd1', version: 2 });
  expect(await docs.find({ _id: { $in: ['d1', 'd2'] }, version: 1 }).toArray()).toEqual([
    { _id: 'd2', version: 1 },
  ]);
  expect(await docs.countDocuments({})).toBe(2);
});

test('createUser makes a user that can authenticate, and a wrong password is refused', async () => {
  const user = `u_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await db.command({
    createUser: user,
    pwd: password,
    // FerretDB 1.24 has authentication but no authorization: it refuses any role.
    roles: [],
  });
  const url = new URL(env.mongo.url);
  url.username = user;
  url.password = password;
  url.pathname = `/${db.databaseName}`;
  url.searchParams.set('authSource', db.databaseName);
  const asUser = new MongoClient(url.toString());
  try {
    await asUser.db(db.databaseName).collection('notes').insertOne({ by: user });
    expect(await asUser.db(db.databaseName).collection('notes').countDocuments({ by: user })).toBe(
      1,
    );
  } finally {
    await asUser.close();
  }
  url.password = 'wrong';
  const impostor = new MongoClient(url.toString(), { serverSelectionTimeoutMS: 3_000 });
  await expect(impostor.db(db.databaseName).command({ ping: 1 })).rejects.toThrow(
    /Authentication failed/,
  );
  await impostor.close();
  await db.command({ dropUser: user });
});
