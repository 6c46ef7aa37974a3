// MongoDB administration for tenant databases: the database (made to exist by a marker
// document), its application user, and dropping both. Works against MongoDB and
// FerretDB; FerretDB 1.x has authentication but no roles, so users get none there.
// Every failure leaves as a DatabaseError whose reason a condition can carry.
import { MongoClient, MongoServerError } from 'mongodb';
import { scramMatches, type ScramCredential } from './password-check.js';

export type MongoChange = 'created-database' | 'created-user' | 'reset-password';

export type DatabaseReason = 'DatabaseRefused' | 'DatabaseUnavailable' | 'DatabaseError';

/** A failed administration step; the driver's message is kept, its error is the cause. */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  /** CamelCase reason for a condition: DatabaseRefused, DatabaseUnavailable, DatabaseError. */
  readonly reason: DatabaseReason;

  constructor(cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(message, { cause });
    // The driver names its errors after what failed (MongoServerSelectionError,
    // MongoNetworkTimeoutError); a refused login says so only in its message.
    const name = cause instanceof Error ? cause.name : '';
    if (/Authentication|Unauthorized/i.test(message)) this.reason = 'DatabaseRefused';
    else if (/ServerSelection|Network|Timeout/i.test(name)) this.reason = 'DatabaseUnavailable';
    else this.reason = 'DatabaseError';
  }
}

/** Runs one administration step; whatever it throws becomes a DatabaseError. */
async function classified<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw err instanceof DatabaseError ? err : new DatabaseError(err);
  }
}

interface UsersInfo {
  users: { user: string; credentials?: { 'SCRAM-SHA-256'?: ScramCredential } }[];
}

export class MongoAdmin {
  private readonly client: MongoClient;
  private supportsRoles?: boolean;
  /** Commands that changed something, for tests and the benchmark. */
  writes = 0;

  constructor(
    url: string,
    private readonly onWrite: () => void = () => undefined,
  ) {
    this.client = new MongoClient(url, {
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
    });
  }

  /**
   * Whether the server has roles, so a tenant's user can be confined to its database.
   * FerretDB 1.x has none: every user may read every database there.
   */
  async rolesSupported(): Promise<boolean> {
    if (this.supportsRoles === undefined) {
      const info = await this.client.db('admin').command({ buildInfo: 1 });
      this.supportsRoles = !('ferretdbVersion' in info);
    }
    return this.supportsRoles;
  }

  /**
   * Makes the database exist and `user` able to log in to it with `password` (readWrite
   * on that database alone where the server has roles). Writes only what is missing.
   */
  async ensureTenantDatabase(
    database: string,
    user: string,
    password: string,
  ): Promise<MongoChange[]> {
    return classified(async () => {
      const changes: MongoChange[] = [];
      const db = this.client.db(database);
      const marker = db.collection<{ _id: string; createdAt: Date }>('_gorten');
      if (!(await marker.findOne({ _id: 'tenant' }))) {
        await marker.updateOne(
          { _id: 'tenant' },
          { $setOnInsert: { createdAt: new Date() } },
          { upsert: true },
        );
        changes.push('created-database');
      }
      const info = (await db.command({
        usersInfo: user,
        showCredentials: true,
      })) as unknown as UsersInfo;
      const existing = info.users.find((u) => u.user === user);
      const roles = (await this.rolesSupported()) ? [{ role: 'readWrite', db: database }] : [];
      if (!existing) {
        await db.command({ createUser: user, pwd: password, roles });
        changes.push('created-user');
      } else {
        const credential = existing.credentials?.['SCRAM-SHA-256'];
        if (!credential || !scramMatches(password, credential)) {
          await db.command({ updateUser: user, pwd: password, roles });
          changes.push('reset-password');
        }
      }
      this.writes += changes.length;
      for (const _ of changes) this.onWrite();
      return changes;
    });
  }

  /** Drops the user and the whole database. Idempotent. */
  async dropTenantDatabase(database: string, user: string): Promise<void> {
    return classified(async () => {
      const db = this.client.db(database);
      try {
        await db.command({ dropUser: user });
      } catch (err) {
        if (!(err instanceof MongoServerError && /not found/i.test(err.message))) throw err;
      }
      await db.dropDatabase();
    });
  }

  /**
   * Makes the document `_id` in `collection` hold `fields` (other fields untouched).
   * Returns whether it wrote.
   */
  async ensureDocument(
    database: string,
    collection: string,
    id: string,
    fields: Record<string, unknown>,
  ): Promise<boolean> {
    return classified(async () => {
      const docs = this.client.db(database).collection<{ _id: string }>(collection);
      const current = (await docs.findOne({ _id: id })) as Record<string, unknown> | null;
      if (
        current &&
        Object.entries(fields).every(([k, v]) => JSON.stringify(current[k]) === JSON.stringify(v))
      )
        return false;
      await docs.updateOne({ _id: id }, { $set: fields }, { upsert: true });
      this.writes++;
      this.onWrite();
      return true;
    });
  }

  async databaseExists(database: string): Promise<boolean> {
    return classified(async () => {
      const { databases } = await this.client.db('admin').admin().listDatabases({ nameOnly: true });
      return databases.some((d) => d.name === database);
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
