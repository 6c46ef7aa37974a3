// Redis as testenv runs it: the shared environment's on loopback, refusing anyone without
// the admin password; a private one that a test may pause and stop, leaving nothing, and
// that its owner's sweep can always find.
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { OWNERS, ownedBy, sweepOwner, withOwner } from '../src/owners.js';
import { isAlive } from '../src/pids.js';
import { loadTestEnv, pingRedis, startRedis } from '../src/index.js';

const env = loadTestEnv();

test('the shared Redis listens on loopback and answers only its admin', async () => {
  expect(env.redis.address).toMatch(/^127\.0\.0\.1:\d+$/);
  await pingRedis(env.redis.address, env.redis.password);
  await expect(pingRedis(env.redis.address, 'not-the-password')).rejects.toThrow(/WRONGPASS/);
  await expect(pingRedis(env.redis.address, undefined)).rejects.toThrow(/NOAUTH/);
  const admin = createClient({ url: env.redis.url });
  await admin.connect();
  try {
    // Nothing is saved to disk: a cache starts empty after a restart.
    expect(await admin.configGet('save')).toEqual({ save: '' });
    expect(await admin.configGet('bind')).toEqual({ bind: '127.0.0.1' });
  } finally {
    admin.destroy();
  }
});

test('a private Redis pauses (commands hang), resumes, and stops with nothing left', async () => {
  const redis = await startRedis();
  const pids = redis.processes.map((p) => p.pid);
  expect(pids).toHaveLength(1);
  try {
    redis.pause();
    await expect(pingRedis(redis.address, redis.password, 500)).rejects.toThrow(/no answer/);
    redis.resume();
    await pingRedis(redis.address, redis.password);
  } finally {
    await redis.stop();
  }
  expect(pids.filter(isAlive)).toEqual([]);
  await expect(pingRedis(redis.address, redis.password, 500)).rejects.toThrow();
});

test("an owner's sweep finds and stops a private Redis, whose process title hides nothing", async () => {
  // Redis rewrites its process title over the memory /proc/<pid>/environ shows, which
  // would erase the owner's stamp and hide a leaked server from every sweep.
  const saved = process.env[OWNERS];
  const owner = `test-${randomBytes(4).toString('hex')}`;
  process.env[OWNERS] = withOwner(owner);
  const redis = await startRedis();
  try {
    const pids = redis.processes.map((p) => p.pid);
    expect(ownedBy(owner).map((p) => p.pid)).toEqual(pids);
    expect((await sweepOwner(owner)).map((p) => p.pid)).toEqual(pids);
    expect(pids.filter(isAlive)).toEqual([]);
  } finally {
    await redis.stop();
    if (saved === undefined) delete process.env.GORTEN_OWNERS;
    else process.env[OWNERS] = saved;
  }
});
