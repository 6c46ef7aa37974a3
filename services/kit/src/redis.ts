// The connection to Redis, from REDIS_URL: commands are refused at once while it is away
// (no offline queue that would pile them up), it reconnects by itself with capped backoff,
// and an outage is logged once — by what broke, never with the URL (it holds a password).
import type { Logger } from 'pino';
import { createClient } from 'redis';
import { backoffDelay } from './backoff.js';

export type RedisConnection = ReturnType<typeof newClient>;

function newClient(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    // A frozen Redis answers nothing: commands wait in this queue until the caller's
    // timeout; past this many, further ones are refused rather than queued.
    commandsQueueMaxLength: 1_000,
    socket: {
      connectTimeout: 1_000,
      reconnectStrategy: (retries) =>
        backoffDelay(retries, { baseMs: 100, maxMs: 2_000, jitter: 0.2 }),
    },
  });
}

/** A URL's host:port, for logs: never its credentials. */
export function redisAddress(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable URL)';
  }
}

export function connectRedis(url: string, log: Logger): RedisConnection {
  const address = redisAddress(url);
  let away = false;
  const client = newClient(url);
  client.on('error', (err: Error) => {
    if (away) return;
    away = true;
    log.warn(
      { redis: address, err: { name: err.name, message: err.message } },
      'Redis unavailable; reading from the database',
    );
  });
  client.on('ready', () => {
    if (away) log.info({ redis: address }, 'Redis is back; caching again');
    away = false;
  });
  // Not awaited: the service starts, and serves from the database, until Redis answers.
  client.connect().catch(() => undefined);
  return client;
}
