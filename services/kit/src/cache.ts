// A read-through cache in Redis: answers kept as the JSON sent (a hit is never parsed),
// correct by generations (cache-keys.ts) that a write bumps after its database write and
// before it answers. A miss is filled once (per process; across replicas by an NX lock),
// a hot entry is refreshed ahead of its TTL. Every call goes through the "redis"
// dependency policy; when Redis fails, reads go to the database (Redis is never a
// readiness dependency). docs/service-kit.md and docs/services.md tell the whole story.
import { BrokenCircuitError } from 'cockatiel';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import {
  CACHE_NAMES,
  CACHE_OUTCOMES,
  entryKey,
  fillLockKey,
  freshGeneration,
  generationKey,
  generationValue,
  readEntry,
  storedEntry,
  type CacheName,
  type CacheOutcome,
} from './cache-keys.js';
import { ConfigError } from './config.js';
import { connectRedis, type RedisConnection } from './redis.js';
import { dependencyPolicy, type DependencyMetrics, type DependencyPolicy } from './resilience.js';

export class CacheMetrics {
  readonly requests: Counter<'cache' | 'outcome'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'gorten_cache_requests_total',
      help: 'Cached reads by cache and outcome (hit: no database read, miss: a fill from the database, error: Redis failed, bypass: not cacheable or circuit open)',
      labelNames: ['cache', 'outcome'],
      registers: [registry],
    });
  }
}

/** What one read asks for: the cache, the generations it depends on, and what was asked. */
export interface CachedRead {
  cache: CacheName;
  generations: readonly string[];
  asked: unknown;
}

export interface CacheSettings {
  /** Every key starts with it (the operator's ACL user may use only those). */
  keyPrefix: string;
  /** The safety net: an entry no bump made unreachable goes away after this. */
  ttlSeconds: number;
}

/** A generation outlives every entry read under it many times over (see cache-keys.ts). */
const GENERATION_TTL_SECONDS = 24 * 3_600;
/** How long a fill may hold its lock, and how long the others wait for it before reading themselves. */
const FILL_LOCK_MS = 2_000;
const FILL_WAIT_MS = 250;
const FILL_POLL_MS = 15;
/** A hit on an entry older than this share of its TTL refreshes it in the background. */
const REFRESH_AFTER_SHARE = 0.75;
/** How often bumps that failed are tried again. */
const RETRY_BUMPS_MS = 1_000;

/** A read waiting for the next MGET of generations. */
interface GenerationWaiter {
  keys: readonly string[];
  resolve: (generations: ReadonlyMap<string, number | undefined>) => void;
  reject: (err: unknown) => void;
}

interface Lookup {
  body: string;
  outcome: CacheOutcome;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a cache that is on works with. */
interface CacheBackend {
  redis: RedisConnection;
  policy: DependencyPolicy;
  settings: CacheSettings;
  metrics: CacheMetrics;
  log: Pick<Logger, 'warn'>;
}

export class ReadCache {
  private readonly inflight = new Map<string, Promise<Lookup>>();
  private waiting: GenerationWaiter[] = [];
  private readingGenerations = false;
  /** Entries this process is refreshing ahead of their TTL. */
  private readonly refreshing = new Set<string>();
  /**
   * Generations whose bump failed, each with the number of its latest failure (a retry
   * that began before a newer failure does not clear it): until they are bumped, this
   * process reads past the cache.
   */
  private readonly unbumped = new Map<string, number>();
  private failures = 0;
  private readonly retry: NodeJS.Timeout | undefined;

  /** Without a backend the cache is off: every read is its fill, nothing is counted. */
  constructor(private readonly backend?: CacheBackend) {
    if (!backend) return;
    this.retry = setInterval(() => void this.bumpAgain(), RETRY_BUMPS_MS);
    this.retry.unref();
    for (const cache of CACHE_NAMES)
      for (const outcome of CACHE_OUTCOMES) backend.metrics.requests.inc({ cache, outcome }, 0);
  }

  get enabled(): boolean {
    return this.backend !== undefined;
  }

  /** The answer not taken from the cache, counted as such (an authenticated caller's). */
  async bypass(cache: CacheName, read: () => Promise<string>): Promise<string> {
    if (this.enabled) this.count(cache, 'bypass');
    return read();
  }

  /** The cached JSON for `read`, or `fill()`'s, stored for the next reader. */
  async read(read: CachedRead, fill: () => Promise<string>): Promise<string> {
    const { backend } = this;
    if (!backend) return fill();
    if (this.unbumped.size > 0) return this.bypass(read.cache, fill);
    let generations: (number | undefined)[];
    try {
      const keys = read.generations.map((g) => generationKey(backend.settings.keyPrefix, g));
      const current = await this.generations(keys);
      generations = keys.map((k) => current.get(k));
      const missing = keys.filter((_, i) => generations[i] === undefined);
      if (missing.length > 0) {
        // Made afresh (or by another reader meanwhile), then read as this read's own.
        const made = await this.call(async (r) => {
          await Promise.all(missing.map((k) => startGeneration(r, k)));
          return r.mGet(missing);
        });
        const madeAs = new Map(missing.map((k, i) => [k, generationValue(made[i])]));
        generations = keys.map((k) => current.get(k) ?? madeAs.get(k));
      }
    } catch (err) {
      this.count(read.cache, outcomeOf(err));
      return fill();
    }
    if (!generations.every((g) => g !== undefined)) {
      this.count(read.cache, 'miss');
      return fill();
    }
    const key = entryKey(backend.settings.keyPrefix, read.cache, generations, read.asked);
    let lookup = this.inflight.get(key);
    const joined = lookup !== undefined;
    if (!lookup) {
      lookup = this.lookup(key, fill).finally(() => this.inflight.delete(key));
      this.inflight.set(key, lookup);
    }
    const { body, outcome } = await lookup;
    // A miss is a database read: a read that joined another's fill made none.
    this.count(read.cache, joined && outcome === 'miss' ? 'hit' : outcome);
    return body;
  }

  /**
   * The generations as an MGET sent after this call began reads them. Batched, one MGET in
   * flight: a read waits for the next one, never joins one already sent (which could
   * predate a bump that this read, begun after the bump's write answered, must see).
   */
  private generations(keys: readonly string[]): Promise<ReadonlyMap<string, number | undefined>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ keys, resolve, reject });
      if (!this.readingGenerations) this.readWaitingGenerations();
    });
  }

  private readWaitingGenerations(): void {
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    this.readingGenerations = true;
    const keys = [...new Set(batch.flatMap((w) => w.keys))];
    void this.call((r) => r.mGet(keys))
      .then(
        (stored) => {
          const current = new Map(keys.map((k, i) => [k, generationValue(stored[i])]));
          for (const w of batch) w.resolve(current);
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.readingGenerations = false;
        this.readWaitingGenerations();
      });
  }

  /**
   * After a write, before it answers: every entry read under these generations is dead.
   * A bump that fails is kept and tried again; this process reads past the cache meanwhile.
   */
  async invalidate(generations: readonly string[]): Promise<void> {
    if (!this.backend) return;
    try {
      await this.bump(generations);
    } catch (err) {
      this.failures += 1;
      for (const g of generations) this.unbumped.set(g, this.failures);
      this.backend.log.warn(
        { err: { name: (err as Error).name, message: (err as Error).message }, generations },
        'cache generations not bumped; reading past the cache until they are',
      );
    }
  }

  /** At once, answered or not: a frozen Redis must not hold up a shutdown. */
  close(): Promise<void> {
    clearInterval(this.retry);
    if (this.backend?.redis.isOpen) this.backend.redis.destroy();
    return Promise.resolve();
  }

  private bump(generations: readonly string[]): Promise<unknown> {
    return this.call((r, { keyPrefix }) =>
      Promise.all(
        generations.map(async (g) => {
          const key = generationKey(keyPrefix, g);
          await startGeneration(r, key);
          await r.incr(key);
          await r.expire(key, GENERATION_TTL_SECONDS);
        }),
      ),
    );
  }

  private async bumpAgain(): Promise<void> {
    if (this.unbumped.size === 0) return;
    const pending = [...this.unbumped];
    try {
      await this.bump(pending.map(([g]) => g));
    } catch {
      return; // still away: the next round tries again
    }
    for (const [g, failure] of pending)
      if (this.unbumped.get(g) === failure) this.unbumped.delete(g);
  }

  private async lookup(key: string, fill: () => Promise<string>): Promise<Lookup> {
    let locked: boolean;
    try {
      const hit = await this.cached(key, fill);
      if (hit !== null) return { body: hit, outcome: 'hit' };
      locked = await this.lockFill(key);
      if (!locked) {
        const filled = await this.filledByAnother(key);
        if (filled !== null) return { body: filled, outcome: 'hit' };
      }
    } catch (err) {
      return { body: await fill(), outcome: outcomeOf(err) };
    }
    return { body: await this.fillAndStore(key, fill, locked), outcome: 'miss' };
  }

  /**
   * The entry's body, or null. An entry of the current generations is stale only by the
   * TTL's measure (no write since its fill), so one past most of its TTL is served and
   * refreshed in the background, by one replica: a hot key never expires under its readers.
   * (Stale-while-refill across generations would break the guarantee, so it is not done.)
   */
  private async cached(key: string, fill: () => Promise<string>): Promise<string | null> {
    const stored = await this.call((r) => r.get(key));
    const entry = stored === null ? null : readEntry(stored);
    if (!entry) return null;
    const ttlMs = (this.backend?.settings.ttlSeconds ?? 0) * 1_000;
    if (Date.now() - entry.filledAtMs > ttlMs * REFRESH_AFTER_SHARE && !this.refreshing.has(key)) {
      this.refreshing.add(key);
      // One replica refreshes (the lock); a failed refresh leaves the entry to its TTL.
      void this.lockFill(key)
        .then((locked) => (locked ? this.fillAndStore(key, fill, true) : undefined))
        .catch(() => undefined)
        .finally(() => this.refreshing.delete(key));
    }
    return entry.body;
  }

  private async lockFill(key: string): Promise<boolean> {
    const lock = await this.call((r) =>
      r.set(fillLockKey(key), '1', {
        condition: 'NX',
        expiration: { type: 'PX', value: FILL_LOCK_MS },
      }),
    );
    return lock === 'OK';
  }

  /** `fill()`, stored under `key` (errors storing are the next reader's miss). */
  private async fillAndStore(
    key: string,
    fill: () => Promise<string>,
    locked: boolean,
  ): Promise<string> {
    const filledAt = Date.now();
    const body = await fill().catch(async (err: unknown) => {
      if (locked) await this.call((r) => r.del(fillLockKey(key))).catch(() => undefined);
      throw err;
    });
    await this.call(async (r, { ttlSeconds }) => {
      await r.set(key, storedEntry(filledAt, body), {
        expiration: { type: 'EX', value: ttlSeconds },
      });
      if (locked) await r.del(fillLockKey(key));
    }).catch(() => undefined);
    return body;
  }

  /** Another replica is filling `key`: its result, or null when it takes too long. */
  private async filledByAnother(key: string): Promise<string | null> {
    for (let waited = 0; waited < FILL_WAIT_MS; waited += FILL_POLL_MS) {
      await sleep(FILL_POLL_MS);
      const stored = await this.call((r) => r.get(key));
      const entry = stored === null ? null : readEntry(stored);
      if (entry) return entry.body;
    }
    return null;
  }

  private call<T>(
    command: (redis: RedisConnection, settings: CacheSettings) => Promise<T>,
  ): Promise<T> {
    const { backend } = this;
    if (!backend) return Promise.reject(new Error('the cache is off'));
    return backend.policy.execute(() => command(backend.redis, backend.settings));
  }

  private count(cache: CacheName, outcome: CacheOutcome): void {
    this.backend?.metrics.requests.inc({ cache, outcome });
  }
}

/** A generation Redis does not have starts at a fresh number (cache-keys.ts), unless another made it first. */
function startGeneration(r: RedisConnection, key: string): Promise<unknown> {
  return r.set(key, String(freshGeneration()), {
    condition: 'NX',
    expiration: { type: 'EX', value: GENERATION_TTL_SECONDS },
  });
}

/** A Redis call refused by the open breaker is a read past the cache; anything else, an error. */
function outcomeOf(err: unknown): CacheOutcome {
  return err instanceof BrokenCircuitError ? 'bypass' : 'error';
}

export interface CacheEnv {
  REDIS_URL?: string;
  REDIS_KEY_PREFIX?: string;
  CACHE_TTL_SECONDS: number;
  REDIS_TIMEOUT_MS: number;
}

/** The service's cache: on with REDIS_URL (and then REDIS_KEY_PREFIX), else off. */
export function openReadCache(
  env: CacheEnv,
  log: Logger,
  registry: Registry,
  dependencyMetrics: DependencyMetrics,
): ReadCache {
  const metrics = new CacheMetrics(registry);
  const settings = {
    keyPrefix: env.REDIS_KEY_PREFIX ?? '',
    ttlSeconds: env.CACHE_TTL_SECONDS,
  };
  if (!env.REDIS_URL) return noCache;
  if (!env.REDIS_KEY_PREFIX)
    throw new ConfigError('invalid configuration:\n  REDIS_KEY_PREFIX: missing (REDIS_URL is set)');
  const policy = dependencyPolicy('redis', dependencyMetrics, {
    idempotent: false, // no retries: a slow Redis must cost one timeout, not three
    timeoutMs: env.REDIS_TIMEOUT_MS,
    breakAfter: 5,
    halfOpenAfterMs: 2_000,
    concurrency: 512,
    queue: 512,
    abortOnReturn: false, // Redis calls ignore the signal: no AbortError made per call
  });
  const redis = connectRedis(env.REDIS_URL, log);
  return new ReadCache({ redis, policy, settings, metrics, log });
}

/** The cache that is off: reads go to the database (no REDIS_URL; unit tests). */
export const noCache = new ReadCache();
