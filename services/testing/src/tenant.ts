// A throwaway tenant on the real test servers, shaped like what the operator provisions:
// its own MongoDB database, its own RabbitMQ vhost holding rabbitmq/topology.json (the
// file the operator declares), an RS256 key pair, the secret of its request fingerprints,
// and the environment a service reads.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'amqplib';
import jwt from 'jsonwebtoken';
import { MongoClient, type Db } from 'mongodb';
import {
  SHARED_COLLECTIONS,
  type CompanyRecord,
  type CompanyStatus,
} from '@gorten/kit/tenant-contract';
import { eventually, loadTestEnv, type TestEnv } from '@gorten/testenv';

const TOPOLOGY_FILE = join(import.meta.dirname, '..', '..', '..', 'rabbitmq', 'topology.json');

/** Three statistics intervals of the test broker (testenv sets 1 s). */
const STATS_SETTLE_MS = 3_000;

export interface TokenClaims {
  sub: string;
  roles: string[];
  company?: string;
}

export interface KeyPair {
  publicKey: string;
  privateKey: string;
}

export function rsaKeyPair(): KeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** The servers a tenant lives on. */
export type TenantServers = Pick<TestEnv, 'mongo' | 'rabbitmq'>;

export interface StoredField {
  collection: string;
  path: string;
  value: string;
}

export class TestTenant {
  readonly name: string;
  readonly database: string;
  readonly vhost: string;
  readonly issuer: string;
  readonly keys = rsaKeyPair();
  /** What the operator generates into the Secret `idempotency-key`. */
  readonly idempotencyHmacKey = randomBytes(32).toString('base64url');
  readonly mongo: MongoClient;
  readonly db: Db;

  private constructor(
    readonly testEnv: TenantServers,
    label: string,
  ) {
    const run = randomBytes(3).toString('hex');
    this.name = `${label}-${run}`;
    this.database = `mp_${label.replace(/-/g, '_')}_${run}`;
    this.vhost = `mp-${this.name}`;
    this.issuer = `gorten/mp-${this.name}`;
    this.mongo = new MongoClient(testEnv.mongo.url);
    this.db = this.mongo.db(this.database);
  }

  /**
   * Creates the vhost with the tenant topology; the database appears on first write. On
   * the shared test environment, or on servers of the test's own (the chaos suite's).
   */
  static async create(label: string, servers: TenantServers = loadTestEnv()): Promise<TestTenant> {
    const tenant = new TestTenant(servers, label);
    await tenant.management('PUT', `/api/vhosts/${encodeURIComponent(tenant.vhost)}`, {});
    await tenant.management(
      'PUT',
      `/api/permissions/${encodeURIComponent(tenant.vhost)}/${encodeURIComponent(tenant.testEnv.rabbitmq.user)}`,
      { configure: '.*', write: '.*', read: '.*' },
    );
    await tenant.management(
      'POST',
      `/api/definitions/${encodeURIComponent(tenant.vhost)}`,
      JSON.parse(readFileSync(TOPOLOGY_FILE, 'utf8')),
    );
    return tenant;
  }

  async management(method: string, path: string, body?: unknown): Promise<unknown> {
    const { managementUrl, user, password } = this.testEnv.rabbitmq;
    const response = await fetch(`${managementUrl}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    const text = await response.text();
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  get mongoUri(): string {
    const url = new URL(this.testEnv.mongo.url);
    url.pathname = `/${this.database}`;
    return url.toString();
  }

  get amqpUrl(): string {
    const url = new URL(this.testEnv.rabbitmq.amqpUrl);
    url.pathname = `/${encodeURIComponent(this.vhost)}`;
    return url.toString();
  }

  /** The environment the operator gives a tenant's service pod (on port 0). */
  serviceEnv(service: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      SERVICE: service,
      HTTP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: process.env.GORTEN_TEST_LOG ?? 'silent',
      MONGODB_URI: this.mongoUri,
      AMQP_URL: this.amqpUrl,
      JWT_PUBLIC_KEY: this.keys.publicKey,
      JWT_ISSUER: this.issuer,
      JWT_AUDIENCE: this.name,
      IDEMPOTENCY_HMAC_KEY: this.idempotencyHmacKey,
      MARKETPLACE: this.name,
      CURRENCY: 'EUR',
      CORS_ORIGINS: 'https://shop.example.com',
      ...extra,
    };
  }

  /** A company record as the companies service makes one (its products are for sale while active). */
  async addCompany(status: CompanyStatus = 'active'): Promise<string> {
    const id = `co_${randomBytes(12).toString('hex')}`;
    const now = new Date();
    await this.db.collection<CompanyRecord>(SHARED_COLLECTIONS.companies).insertOne({
      _id: id,
      displayName: `Company ${id.slice(-6)}`,
      contactEmail: `sales@${id}.example.com`,
      status,
      managedBy: 'api',
      createdAt: now,
      updatedAt: now,
    });
    return id;
  }

  /** Suspends, removes or reactivates a company, as the companies service or operator would. */
  async setCompanyStatus(id: string, status: CompanyStatus): Promise<void> {
    await this.db
      .collection<CompanyRecord>(SHARED_COLLECTIONS.companies)
      .updateOne({ _id: id }, { $set: { status, updatedAt: new Date() } });
  }

  /** An access token as the tenant's users service would sign it. */
  token(claims: TokenClaims, options: jwt.SignOptions = {}): string {
    return jwt.sign(claims, this.keys.privateKey, {
      algorithm: 'RS256',
      issuer: this.issuer,
      audience: this.name,
      expiresIn: 300,
      ...options,
    });
  }

  /** Messages waiting in a queue of this tenant's vhost, taken off it. */
  async drain(queue: string): Promise<{ routingKey: string; body: unknown }[]> {
    const model = await connect(this.amqpUrl);
    try {
      const channel = await model.createChannel();
      const messages: { routingKey: string; body: unknown }[] = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) return messages;
        const text = message.content.toString('utf8');
        let body: unknown = text; // poison stays as the bytes it was
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          // not JSON
        }
        messages.push({ routingKey: message.fields.routingKey, body });
      }
    } finally {
      await model.close();
    }
  }

  /**
   * A queue of the test's own bound to `exchange`, so a test sees every event published
   * there even while a service consumes the tenant's queues.
   */
  async tap(exchange: string, pattern = '#'): Promise<string> {
    const queue = `test.tap.${exchange}.${randomBytes(3).toString('hex')}`;
    const model = await connect(this.amqpUrl);
    try {
      const channel = await model.createChannel();
      await channel.assertQueue(queue, { durable: true });
      await channel.bindQueue(queue, exchange, pattern);
    } finally {
      await model.close();
    }
    return queue;
  }

  /**
   * Makes the broker unreachable for this tenant only (other tests share the broker):
   * no new connections to its vhost, and the open ones closed — waited for until the
   * broker lists none. The returned function lets clients back in.
   */
  async cutOffBroker(): Promise<() => Promise<void>> {
    const vhost = encodeURIComponent(this.vhost);
    const restore = async (): Promise<void> => {
      await this.management('DELETE', `/api/vhost-limits/${vhost}/max-connections`);
    };
    await this.management('PUT', `/api/vhost-limits/${vhost}/max-connections`, { value: 0 });
    // The management API lists a connection only after a statistics interval (1 s in the
    // test environment), so keep closing for a few intervals, then until none is left.
    const since = Date.now();
    await eventually({ what: `no connections to ${this.vhost}`, timeoutMs: 20_000 }, async () => {
      const open = (await this.management('GET', `/api/vhosts/${vhost}/connections`)) as {
        name: string;
      }[];
      for (const c of open)
        await this.management('DELETE', `/api/connections/${encodeURIComponent(c.name)}`);
      return open.length === 0 && Date.now() - since > STATS_SETTLE_MS ? true : undefined;
    });
    return restore;
  }

  /** Publishes raw bytes to an exchange of this tenant (events, and poison). */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    messageId?: string,
    headers?: Record<string, unknown>,
  ): Promise<void> {
    const model = await connect(this.amqpUrl);
    try {
      const channel = await model.createConfirmChannel();
      channel.publish(exchange, routingKey, content, { persistent: true, messageId, headers });
      await channel.waitForConfirms();
    } finally {
      await model.close();
    }
  }

  /**
   * Every field stored in the tenant's database, as `collection`, dotted `path` and the
   * value as text: for tests that prove something is kept nowhere (card data).
   */
  async storedFields(): Promise<StoredField[]> {
    const fields: StoredField[] = [];
    const walk = (collection: string, path: string, value: unknown): void => {
      if (value instanceof Date) fields.push({ collection, path, value: value.toISOString() });
      else if (Array.isArray(value)) value.forEach((v, i) => walk(collection, `${path}.${i}`, v));
      else if (value && typeof value === 'object' && value.constructor === Object)
        for (const [k, v] of Object.entries(value)) walk(collection, path ? `${path}.${k}` : k, v);
      else fields.push({ collection, path, value: String(value) });
    };
    for (const { name } of await this.db.listCollections({}, { nameOnly: true }).toArray())
      for (const doc of await this.db.collection(name).find().toArray()) walk(name, '', doc);
    return fields;
  }

  async destroy(): Promise<void> {
    await this.management('DELETE', `/api/vhosts/${encodeURIComponent(this.vhost)}`).catch(
      () => undefined,
    );
    await this.db.dropDatabase().catch(() => undefined);
    await this.mongo.close();
  }
}
