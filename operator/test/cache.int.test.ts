// The cache plane against the real Redis of testenv: each tenant's ACL user may touch its
// own keys only and run no dangerous command, drift is undone by the next resync, deletion
// removes the user and its keys alone; and an unusable Redis (a bad URL, a refused ACL
// command, a stopped server) is CacheReady False with an Event while the other planes converge.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { eventually, startRedis, type PrivateRedis } from '@gorten/testenv';
import type { KubeObject } from '../src/clients/kube.js';
import type { MarketplaceCondition } from '../src/marketplace/reconcile.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { findCondition } from '../src/runtime/conditions.js';
import type { Marketplace } from '../src/api/types.js';
import {
  deleteMarketplaces,
  ensureCrds,
  env,
  marketplace,
  quietLog,
  secretValue,
  testConfig,
  testKube,
  waitForCondition,
  waitForEvent,
} from './support.js';

const SHARD = 'cache';
const run = randomBytes(2).toString('hex');
const [a, b, c] = ['ca', 'cb', 'cc'].map((base) => `${base}-${run}`) as [string, string, string];
const kube = testKube();
/** The shared Redis as its admin, to look and to tamper. */
const admin = createClient({ url: env.redis.url });
let operator: RunningOperator | undefined;
const opened: { destroy(): void }[] = [];

beforeAll(async () => {
  await ensureCrds(kube);
  await admin.connect();
  operator = await startOperator(testConfig(SHARD), quietLog);
  for (const name of [a, b, c])
    await kube.create(marketplace(SHARD, name, { deletionPolicy: 'Delete' }));
});

afterAll(async () => {
  for (const client of opened) client.destroy();
  await deleteMarketplaces(kube, [a, b, c]).catch(() => undefined);
  await operator?.stop();
  await admin.close();
  kube.close();
});

async function redisUri(name: string): Promise<string> {
  const secret = await kube.get({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: `mp-${name}`,
    name: 'redis-credentials',
  });
  return secretValue(secret, 'uri');
}

/** A connection as the tenant's services make it, with the URL from its Secret. */
async function asTenant(name: string) {
  const client = createClient({
    url: await redisUri(name),
    socket: { reconnectStrategy: false },
  });
  client.on('error', () => undefined);
  opened.push(client);
  await client.connect();
  return client;
}

/** The error a command fails with (the test fails if it succeeds). */
async function refusal(command: Promise<unknown>): Promise<string> {
  try {
    await command;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the command succeeded');
}

describe('a tenant with the cache on', () => {
  beforeAll(async () => {
    for (const name of [a, b, c]) await waitForCondition(kube, name, 'Ready', 'True');
  });

  test('is CacheReady with its Secret; its services get REDIS_URL and REDIS_KEY_PREFIX', async () => {
    const mp = await waitForCondition(kube, a, 'CacheReady', 'True', 'Provisioned');
    expect(findCondition(mp.status?.conditions, 'CacheReady')?.message).toContain(`mp-${a}:*`);
    expect(await redisUri(a)).toMatch(
      new RegExp(`^redis://mp-${a}:[A-Za-z0-9_-]+@${env.redis.address}$`),
    );
    const config = await kube.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: `mp-${a}`,
      name: 'tenant-config',
    });
    expect(config?.data).toMatchObject({ REDIS_KEY_PREFIX: `mp-${a}:` });
    const catalog = await kube.get<
      KubeObject & {
        spec: { template: { spec: { containers: { env: { name: string }[] }[] } } };
      }
    >({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: `mp-${a}`, name: 'catalog' });
    expect(catalog?.spec.template.spec.containers[0]?.env.map((e) => e.name)).toContain(
      'REDIS_URL',
    );
  });

  test('may read and write its own keys, with expiry, scripts and transactions', async () => {
    const tenant = await asTenant(a);
    await tenant.set(`mp-${a}:product:1`, 'cached', { EX: 60 });
    expect(await tenant.get(`mp-${a}:product:1`)).toBe('cached');
    expect(await tenant.incr(`mp-${a}:generation`)).toBe(1);
    expect(await tenant.pExpire(`mp-${a}:generation`, 60_000)).toBe(1);
    expect(await tenant.mGet([`mp-${a}:product:1`, `mp-${a}:none`])).toEqual(['cached', null]);
    expect(
      await tenant.eval("return redis.call('get', KEYS[1])", { keys: [`mp-${a}:product:1`] }),
    ).toBe('cached');
    expect(await tenant.multi().set(`mp-${a}:x`, '1').unlink(`mp-${a}:x`).exec()).toEqual([
      'OK',
      1,
    ]);
    expect(await tenant.del(`mp-${a}:product:1`)).toBe(1);
  });

  test('gets NOPERM on another tenant’s keys and on dangerous commands', async () => {
    await admin.set(`mp-${b}:product:1`, 'theirs');
    const tenant = await asTenant(a);
    expect(await refusal(tenant.get(`mp-${b}:product:1`))).toMatch(/^NOPERM/);
    expect(await refusal(tenant.set(`mp-${b}:product:1`, 'mine'))).toMatch(/^NOPERM/);
    expect(await refusal(tenant.del(`mp-${b}:product:1`))).toMatch(/^NOPERM/);
    expect(await refusal(tenant.get('unprefixed'))).toMatch(/^NOPERM/);
    // A script's calls are checked against the same key rules.
    expect(
      await refusal(
        tenant.eval("return redis.call('get', KEYS[1])", { keys: [`mp-${b}:product:1`] }),
      ),
    ).toMatch(/NOPERM|can't access/);
    for (const command of [
      ['FLUSHALL'],
      ['FLUSHDB'],
      ['CONFIG', 'GET', '*'],
      ['KEYS', '*'],
      ['SCAN', '0'],
      ['SWAPDB', '0', '1'],
      ['MONITOR'],
      ['ACL', 'LIST'],
      ['SELECT', '1'],
      ['FUNCTION', 'FLUSH'],
      ['CLIENT', 'LIST'],
    ])
      expect([command[0], await refusal(tenant.sendCommand(command))]).toEqual([
        command[0],
        expect.stringMatching(/^NOPERM/),
      ]);
    expect(await admin.get(`mp-${b}:product:1`)).toBe('theirs');
  });

  test('a deleted user comes back with the same password at the next resync', async () => {
    const uri = await redisUri(a);
    await admin.sendCommand(['ACL', 'DELUSER', `mp-${a}`]);
    await eventually({ what: `mp-${a} restored`, timeoutMs: 30_000 }, async () =>
      (await admin.aclGetUser(`mp-${a}`)) ? true : undefined,
    );
    expect(await redisUri(a)).toBe(uri);
    expect(await (await asTenant(a)).ping()).toBe('PONG');
  });

  test('an edited user (every command, every key) is restored exactly', async () => {
    await admin.sendCommand(['ACL', 'SETUSER', `mp-${a}`, '+@all', '~*', '>another']);
    await eventually({ what: `mp-${a} confined again`, timeoutMs: 30_000 }, async () => {
      const user = await admin.aclGetUser(`mp-${a}`);
      return user && user.keys === `~mp-${a}:*` && user.passwords.length === 1 ? true : undefined;
    });
    const tenant = await asTenant(a);
    expect(await refusal(tenant.sendCommand(['FLUSHALL']))).toMatch(/^NOPERM/);
    expect(await refusal(tenant.get(`mp-${b}:product:1`))).toMatch(/^NOPERM/);
  });

  test('a deleted Secret gets a new password, and the user is reset to it', async () => {
    const before = await redisUri(a);
    await kube.delete({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: `mp-${a}`,
      name: 'redis-credentials',
    });
    const after = await eventually({ what: 'redis-credentials rewritten', timeoutMs: 30_000 }, () =>
      redisUri(a).then(
        (uri) => (uri !== before ? uri : undefined),
        () => undefined,
      ),
    );
    await eventually({ what: `mp-${a} takes the new password`, timeoutMs: 30_000 }, async () => {
      const client = createClient({ url: after, socket: { reconnectStrategy: false } });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG' ? true : undefined;
      } catch {
        return undefined;
      } finally {
        client.destroy();
      }
    });
    const stale = createClient({ url: before, socket: { reconnectStrategy: false } });
    stale.on('error', () => undefined);
    expect(await refusal(stale.connect())).toMatch(/WRONGPASS/);
    stale.destroy();
  });

  test('once converged, resyncs make no ACL write', async () => {
    const op = operator;
    if (!op?.redis) throw new Error('the operator has no Redis');
    for (const name of [a, b, c]) await waitForCondition(kube, name, 'CacheReady', 'True');
    await sleep(2_500); // let any reconcile in flight finish
    const before = op.redis.writes;
    const reconciles = async () =>
      (await op.metrics.reconcileTotal.get()).values.reduce((n, v) => n + v.value, 0);
    const reconcilesBefore = await reconciles();
    await sleep(4_500); // two resync periods
    expect(await reconciles()).toBeGreaterThan(reconcilesBefore);
    expect(op.redis.writes - before).toBe(0);
  });

  test('deleting a Marketplace removes its user and its keys, not another tenant’s', async () => {
    const tenant = await asTenant(c);
    for (let i = 0; i < 1_200; i++) await tenant.set(`mp-${c}:k:${i}`, 'v');
    await admin.set(`mp-${b}:kept`, 'yes');
    await deleteMarketplaces(kube, [c]);
    expect(await admin.aclGetUser(`mp-${c}`)).toBeNull();
    const left = [];
    for await (const keys of admin.scanIterator({ MATCH: `mp-${c}:*`, COUNT: 1_000 }))
      left.push(...keys);
    expect(left).toEqual([]);
    expect(await admin.get(`mp-${b}:kept`)).toBe('yes');
    expect(await admin.aclGetUser(`mp-${b}`)).not.toBeNull();
  });
});

/** The planes that must converge whatever Redis does. */
const OTHERS: readonly MarketplaceCondition[] = [
  'DatabaseReady',
  'MessagingReady',
  'WorkloadsReady',
  'GatewayReady',
];

async function expectOthersConverged(name: string): Promise<Marketplace> {
  let mp: Marketplace | undefined;
  for (const condition of OTHERS) mp = await waitForCondition(kube, name, condition, 'True');
  if (!mp) throw new Error('no planes');
  expect(findCondition(mp.status?.conditions, 'Ready')?.status).toBe('False');
  return mp;
}

describe('an unusable Redis', () => {
  test('an invalid admin URL: CacheReady False, InvalidRedisUrl, with an Event, the other planes converge; without one the cache is Disabled', async () => {
    const shard = `${SHARD}-badurl`;
    const name = `cbad-${run}`;
    const config = testConfig(shard);
    const { redisTenantHost: _, ...settings } = config.settings;
    const bad = await startOperator(
      {
        ...config,
        redisAdmin: { invalid: 'GORTEN_REDIS_ADMIN_URL must be a redis:// or rediss:// URL' },
        settings,
      },
      quietLog,
    );
    try {
      await kube.create(marketplace(shard, name, { deletionPolicy: 'Delete' }));
      const mp = await waitForCondition(kube, name, 'CacheReady', 'False', 'InvalidRedisUrl');
      expect(findCondition(mp.status?.conditions, 'CacheReady')?.message).toMatch(
        /GORTEN_REDIS_ADMIN_URL/,
      );
      await waitForEvent(kube, name, 'Warning', 'InvalidRedisUrl');
      await expectOthersConverged(name);
      // No Secret to point at: the services get no REDIS_URL.
      expect(
        await kube.get({
          apiVersion: 'v1',
          kind: 'Secret',
          namespace: `mp-${name}`,
          name: 'redis-credentials',
        }),
      ).toBeUndefined();
    } finally {
      await bad.stop();
    }
    // Without an admin URL the cache is off: Disabled, and nothing waits for it.
    const { redisAdmin: _off, ...withoutRedis } = config;
    const off = await startOperator({ ...withoutRedis, settings }, quietLog);
    try {
      const mp = await waitForCondition(kube, name, 'CacheReady', 'True', 'Disabled');
      expect(findCondition(mp.status?.conditions, 'CacheReady')?.message).toMatch(
        /read from the database/,
      );
      await waitForCondition(kube, name, 'Ready', 'True');
    } finally {
      await off.stop();
    }
    // An operator with a usable Redis finalizes it.
    const good = await startOperator(testConfig(shard), quietLog);
    try {
      await waitForCondition(kube, name, 'CacheReady', 'True', 'Provisioned');
      await deleteMarketplaces(kube, [name]);
    } finally {
      await good.stop();
    }
  });

  describe('a private Redis whose admin may not run ACL commands, then is stopped', () => {
    const shard = `${SHARD}-refused`;
    const name = `cref-${run}`;
    let redis: PrivateRedis | undefined;
    let limited: RunningOperator | undefined;
    /** The private Redis as its own admin. */
    let own: ReturnType<typeof createClient> | undefined;

    beforeAll(async () => {
      redis = await startRedis();
      own = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
      own.on('error', () => undefined);
      await own.connect();
      await own.sendCommand([
        'ACL',
        'SETUSER',
        'limited',
        'on',
        '>pw',
        '~*',
        '&*',
        '+@all',
        '-acl',
      ]);
      const config = testConfig(shard);
      limited = await startOperator(
        {
          ...config,
          redisAdmin: { url: `redis://limited:pw@${redis.address}` },
          settings: { ...config.settings, redisTenantHost: redis.address },
        },
        quietLog,
      );
      await kube.create(marketplace(shard, name, { deletionPolicy: 'Delete' }));
    });

    afterAll(async () => {
      try {
        if (own?.isOpen) own.destroy();
        await limited?.stop();
        const good = await startOperator(testConfig(shard), quietLog);
        try {
          await deleteMarketplaces(kube, [name]);
        } finally {
          await good.stop();
        }
      } finally {
        await redis?.stop(); // whatever failed before, the private Redis goes
      }
    });

    test('a refused ACL command: CacheReady False, AclRefused, with an Event; the other planes converge', async () => {
      const mp = await waitForCondition(kube, name, 'CacheReady', 'False', 'AclRefused');
      expect(findCondition(mp.status?.conditions, 'CacheReady')?.message).toMatch(/NOPERM/);
      await waitForEvent(kube, name, 'Warning', 'AclRefused');
      await expectOthersConverged(name);
    });

    test('allowed again, the tenant converges', async () => {
      await own?.sendCommand(['ACL', 'SETUSER', 'limited', '+acl']);
      await waitForCondition(kube, name, 'CacheReady', 'True', 'Provisioned');
      await waitForCondition(kube, name, 'Ready', 'True');
    });

    test('frozen (SIGSTOP): RedisUnavailable once a command times out; resumed, it converges again', async () => {
      redis?.pause();
      try {
        await waitForCondition(kube, name, 'CacheReady', 'False', 'RedisUnavailable');
      } finally {
        redis?.resume();
      }
      await waitForCondition(kube, name, 'CacheReady', 'True', 'Provisioned');
    });

    test('stopped: CacheReady False, RedisUnavailable, with an Event; the other planes stay', async () => {
      own?.destroy();
      await redis?.stop();
      const mp = await waitForCondition(kube, name, 'CacheReady', 'False', 'RedisUnavailable');
      expect(findCondition(mp.status?.conditions, 'DatabaseReady')?.status).toBe('True');
      await waitForEvent(kube, name, 'Warning', 'RedisUnavailable');
    });
  });
});
