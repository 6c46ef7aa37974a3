// Redis 7 from Debian, as a server of our own: a config file of ours (0600, it holds the
// admin password), a loopback port, no persistence, never the package's /etc/redis or its
// service. The default user needs the password: it is the admin the operator uses to
// manage each tenant's ACL user.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { withFreePorts } from '../ports.js';
import { eventually, startServer } from '../process.js';
import type { StartContext } from './context.js';
import { ensureDebianPackage } from './debian.js';

const REDIS = '/usr/bin/redis-server';

export interface RedisAccess {
  /** redis://default:<password>@127.0.0.1:<port>, the admin (operator settings: GORTEN_REDIS_ADMIN_URL). */
  url: string;
  /** host:port, what a tenant's REDIS_URL points at with its own user. */
  address: string;
  password: string;
}

/** The installed server's version ("7.0.15"), from `redis-server --version`. */
export function redisVersion(): string {
  const out = spawnSync(REDIS, ['--version'], { encoding: 'utf8' }).stdout;
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

/** The server's config: loopback only, nothing written to disk, the default user locked by a password. */
export function redisConfig(port: number, dir: string, password: string): string {
  return [
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode yes',
    `dir ${dir}`,
    // A cache: nothing is saved, and a restart starts empty.
    'save ""',
    'appendonly no',
    'daemonize no',
    'logfile ""',
    // Redis writes its process title over the memory /proc/<pid>/environ reads, which
    // erases the owner's stamp (owners.ts): a leaked server would escape every sweep.
    'set-proc-title no',
    `requirepass ${password}`,
    // Two tenants' caches must not evict the other's keys first: the least recently used go.
    'maxmemory 256mb',
    'maxmemory-policy allkeys-lru',
  ].join('\n');
}

/** One RESP exchange: AUTH (with a password) then PING; resolves when the server answers PONG. */
export function pingRedis(
  address: string,
  password: string | undefined,
  timeoutMs = 2_000,
): Promise<void> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port) });
    let answer = '';
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(why));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer from Redis on ${address}`));
    socket.on('error', (err) => fail(err.message));
    socket.on('connect', () => {
      const arg = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
      const auth =
        password === undefined ? '' : `*3\r\n${arg('AUTH')}${arg('default')}${arg(password)}`;
      socket.write(`${auth}*1\r\n${arg('PING')}`);
    });
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('+PONG\r\n')) {
        socket.end();
        resolve();
      } else if (answer.startsWith('-') && answer.includes('\r\n')) {
        fail(`Redis on ${address}: ${answer.trim()}`);
      }
    });
  });
}

export function startRedisServer(ctx: StartContext): Promise<RedisAccess> {
  ensureDebianPackage('Redis', REDIS, 'redis-server');
  const dir = join(ctx.dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const password = randomBytes(18).toString('base64url');
  return withFreePorts(ctx, ['redis'], async (ports, ctx) => {
    const configFile = join(dir, 'redis.conf');
    writeFileSync(configFile, redisConfig(ports.redis, dir, password), { mode: 0o600 });
    const logFile = join(ctx.logDir, 'redis.log');
    const pid = startServer({
      name: 'redis',
      command: REDIS,
      args: [configFile],
      logFile,
      cwd: dir,
    });
    ctx.record({ name: 'redis', pid, match: configFile });
    const address = `127.0.0.1:${ports.redis}`;
    await eventually({ what: 'Redis PING', timeoutMs: 20_000, pid, logFile }, async () => {
      await pingRedis(address, password);
      return true;
    });
    return { url: `redis://default:${password}@${address}`, address, password };
  });
}
