// A Redis of a test's own, for the tests that take the cache away on purpose: stopping or
// pausing it must not disturb the shared environment's Redis every other file uses.
import { signalGroup } from './pids.js';
import { privateServers } from './private-servers.js';
import { startRedisServer, type RedisAccess } from './servers/redis.js';
import type { ServerProcess } from './state.js';

export interface PrivateRedis extends RedisAccess {
  readonly processes: readonly ServerProcess[];
  /** SIGSTOP: connections stay open and every command hangs, as in a freeze. */
  pause(): void;
  resume(): void;
  /** Stops it (resuming it first) and removes its folder; idempotent. */
  stop(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  const { ctx, processes, stop: stopAll } = privateServers('redis', []);
  const stop = () => stopAll((pid) => signalGroup(pid, 'SIGCONT'));
  try {
    const access = await startRedisServer(ctx);
    const pid = () => {
      const proc = processes.find((p) => p.name === 'redis');
      if (!proc) throw new Error('Redis was not started');
      return proc.pid;
    };
    return {
      ...access,
      processes,
      pause: () => signalGroup(pid(), 'SIGSTOP'),
      resume: () => signalGroup(pid(), 'SIGCONT'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
