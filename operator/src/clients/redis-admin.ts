// Redis administration for the tenants' caches: one ACL user per tenant, confined to its
// own key prefix and to the commands a cache needs, and dropping that user with its keys.
// Reads first (ACL GETUSER) and writes only when the user is missing or not exactly as
// wanted. Every failure leaves as a RedisAdminError whose reason a condition can carry.
import { CACHE_COMMAND_RULES, tenantCacheUserRules } from '@gorten/kit/tenant-contract';
import { createHash } from 'node:crypto';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis';

export type RedisReason = 'InvalidRedisUrl' | 'AclRefused' | 'RedisUnavailable' | 'RedisError';

/** A failed administration step; the client's message is kept, its error is the cause. */
export class RedisAdminError extends Error {
  override name = 'RedisAdminError';
  constructor(
    /** CamelCase reason for a condition. */
    readonly reason: RedisReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The reason a client error is reported with: a refusal by the server, or no server. */
export function redisReason(err: unknown): RedisReason {
  if (err instanceof RedisAdminError) return err.reason;
  if (err instanceof ErrorReply)
    return /^(NOPERM|WRONGPASS|NOAUTH)/.test(err.message) ? 'AclRefused' : 'RedisError';
  const lost = [
    ConnectionTimeoutError,
    SocketTimeoutError,
    TimeoutError,
    SocketClosedUnexpectedlyError,
    ClientClosedError,
    ClientOfflineError,
    DisconnectsClientError,
  ].some((kind) => err instanceof kind);
  // A socket error (ECONNREFUSED, ETIMEDOUT, ENOTFOUND...) is no answer either.
  const code = (err as { code?: unknown }).code;
  return lost || (typeof code === 'string' && /^E[A-Z]+$/.test(code))
    ? 'RedisUnavailable'
    : 'RedisError';
}

/** The same rules without a password: the probe user, which therefore no one can log in as. */
function probeRules(): string[] {
  return ['reset', 'on', ...CACHE_COMMAND_RULES];
}

/** What ACL GETUSER reports of a user (node-redis's RESP2 reply). */
interface AclUser {
  flags: string[];
  passwords: string[];
  commands: string;
  keys: string;
  channels: string;
  selectors?: unknown[];
}

/** How Redis shows the command rules and flags after it has normalised them. */
type Canonical = Pick<AclUser, 'flags' | 'commands'>;

/** The user the canonical form is learned with; made and deleted at once. */
const PROBE_USER = 'gorten-operator-acl-probe';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Whether `live` is exactly the user the rules make (the comparison costs no write). */
export function matchesWanted(
  live: AclUser | null,
  canonical: Canonical,
  prefix: string,
  password: string,
): boolean {
  return (
    live !== null &&
    sameSet(live.flags, canonical.flags) &&
    live.commands === canonical.commands &&
    sameSet(live.passwords, [sha256(password)]) &&
    live.keys === `~${prefix}*` &&
    live.channels === `&${prefix}*` &&
    (live.selectors ?? []).length === 0
  );
}

export type RedisChange = 'unchanged' | 'created' | 'restored';

/** How the operator reaches its admin: a URL, or why the configured one cannot be used. */
export type RedisAdminTarget = { url: string } | { invalid: string };

/** How long the server may stay silent, on a command or while connecting. */
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * A client that fails at once while disconnected and gives up on a server that does not
 * answer. node-redis's command timeout stops counting once a command is written, so a
 * frozen server is caught by the socket's idle timeout instead: it closes the connection,
 * failing what waits on it. An idle connection closes the same way; the next step opens
 * another.
 */
function adminClient(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: ANSWER_TIMEOUT_MS,
      socketTimeout: ANSWER_TIMEOUT_MS,
      reconnectStrategy: false,
    },
  });
}

type Client = ReturnType<typeof adminClient>;

/** Keys unlinked per command when a tenant is dropped. */
const UNLINK_BATCH = 500;

export class RedisAdmin {
  private client?: Promise<Client>;
  private canonical?: Promise<Canonical>;
  /** ACL commands that changed something, for tests. */
  writes = 0;

  constructor(
    private readonly target: RedisAdminTarget,
    private readonly onWrite: () => void = () => undefined,
  ) {}

  /**
   * An open connection: made at first use and again once it has closed (no reconnect
   * loop). Callers queue on one promise, so concurrent reconciles share one connection.
   */
  private connected(): Promise<Client> {
    const { target } = this;
    if ('invalid' in target)
      return Promise.reject(new RedisAdminError('InvalidRedisUrl', target.invalid));
    const open = async () => {
      const client = adminClient(target.url);
      // Errors reach the caller through the command that failed; a closed client is redone.
      client.on('error', () => undefined);
      try {
        return await client.connect();
      } catch (err) {
        client.destroy();
        throw err;
      }
    };
    this.client = (this.client ?? Promise.reject(new Error('not connected yet'))).then(
      (client) => (client.isReady ? client : open()),
      open,
    );
    return this.client;
  }

  /** Runs one administration step; whatever it throws becomes a RedisAdminError. */
  private async step<T>(what: string, run: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await run(await this.connected());
    } catch (err) {
      if (err instanceof RedisAdminError) throw err;
      const reason = redisReason(err);
      // A command that timed out may still be answered: the next step starts afresh.
      if (reason === 'RedisUnavailable') await this.close();
      const message = err instanceof Error ? err.message : String(err);
      throw new RedisAdminError(reason, `Redis ${what}: ${message}`, { cause: err });
    }
  }

  private async write(client: Client, args: string[]): Promise<void> {
    await client.sendCommand(args);
    this.writes++;
    this.onWrite();
  }

  private async getUser(client: Client, user: string): Promise<AclUser | null> {
    return (await client.aclGetUser(user)) as unknown as AclUser | null;
  }

  /**
   * How this server shows the cache's command rules once normalised (Redis 7 expands
   * categories), learned once from a user made with the same rules and no password.
   */
  private canonicalForm(client: Client): Promise<Canonical> {
    // One probe at a time: reconciles run side by side, and a second probe would delete
    // the user the first is still reading.
    this.canonical ??= this.probe(client).catch((err: unknown) => {
      this.canonical = undefined;
      throw err;
    });
    return this.canonical;
  }

  private async probe(client: Client): Promise<Canonical> {
    await this.write(client, ['ACL', 'SETUSER', PROBE_USER, ...probeRules()]);
    const probe = await this.getUser(client, PROBE_USER);
    await this.write(client, ['ACL', 'DELUSER', PROBE_USER]);
    if (!probe) throw new RedisAdminError('RedisError', `the ACL user ${PROBE_USER} vanished`);
    return { flags: probe.flags, commands: probe.commands };
  }

  /**
   * Makes `user` exactly the tenant's cache user: keys and channels under `prefix`, the
   * commands of CACHE_COMMAND_RULES, `password` its only one. A user that is missing or
   * differs in anything is rewritten from `reset`; one as wanted costs one read.
   */
  async ensureTenantUser(user: string, prefix: string, password: string): Promise<RedisChange> {
    return this.step(`ACL user ${user}`, async (client) => {
      const canonical = await this.canonicalForm(client);
      const live = await this.getUser(client, user);
      if (matchesWanted(live, canonical, prefix, password)) return 'unchanged';
      await this.write(client, ['ACL', 'SETUSER', user, ...tenantCacheUserRules(prefix, password)]);
      // A server that normalises differently now (upgraded, restarted): learn it again.
      const written = await this.getUser(client, user);
      if (written)
        this.canonical = Promise.resolve({ flags: written.flags, commands: written.commands });
      return live ? 'restored' : 'created';
    });
  }

  /** Deletes the user (its connections are closed) and every key under `prefix`. Idempotent. */
  async dropTenant(user: string, prefix: string): Promise<number> {
    return this.step(`dropping ${user}`, async (client) => {
      await this.write(client, ['ACL', 'DELUSER', user]);
      let removed = 0;
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: UNLINK_BATCH })) {
        if (keys.length === 0) continue;
        await this.write(client, ['UNLINK', ...keys]);
        removed += keys.length;
      }
      return removed;
    });
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    if (client?.isOpen) client.destroy();
  }
}
