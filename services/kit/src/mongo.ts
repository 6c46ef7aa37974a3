// MongoDB for a service: connect at start (its operations traced when tracing is on),
// create the indexes the service declares, and a readiness check. The database is the one the URI names (the tenant's). Also how a
// unique-index clash is recognised, on MongoDB and on FerretDB alike.
import { MongoClient, MongoServerError, type Db, type IndexDescription } from 'mongodb';
import type { ReadinessCheck } from './app.js';
import { serverOf, tracedDb } from './mongo-tracing.js';
import { NO_TRACING, type Tracing } from './tracing.js';

export interface CollectionIndexes {
  collection: string;
  indexes: IndexDescription[];
}

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  ready: ReadinessCheck;
  close: () => Promise<void>;
}

/**
 * A write refused by a unique index. MongoDB says so with code 11000 (DuplicateKey);
 * FerretDB 1.24 does for inserts, but from findAndModify it reports SQLite's own
 * "UNIQUE constraint failed" as an InternalError (code 1).
 */
export function isDuplicateKey(err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false;
  return err.code === 11000 || (err.code === 1 && err.message.includes('UNIQUE constraint failed'));
}

export async function connectMongo(
  uri: string,
  indexes: readonly CollectionIndexes[],
  tracing: Tracing = NO_TRACING,
): Promise<MongoHandle> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
  });
  await client.connect();
  // The database named in the URI; its operations traced when tracing is on.
  const seed = client.options.hosts[0];
  const db = tracedDb(client.db(), tracing, seed ? serverOf(String(seed)) : undefined);
  // One index per command: FerretDB 1.24 drops the connection (a server panic) when one
  // createIndexes command names two or more indexes that all exist — every restart.
  for (const { collection, indexes: specs } of indexes) {
    for (const spec of specs) await db.collection(collection).createIndexes([spec]);
  }
  return {
    client,
    db,
    ready: async () => {
      await db.command({ ping: 1 });
    },
    close: () => client.close(),
  };
}
