// The cache plane's pure parts: the ACL rules of a tenant's Redis user, the URL the
// services get, how the operator reads its Redis settings, and what the pods are given.
import { loadConfig, redisAdminTarget, redisTenantHost } from '../src/config.js';
import { CACHE_COMMAND_RULES, tenantCacheUserRules } from '@gorten/kit/tenant-contract';
import { matchesWanted, redisReason } from '../src/clients/redis-admin.js';
import type { Marketplace } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import { buildCacheSecret, cacheUri, passwordOf } from '../src/marketplace/credentials.js';
import { tenantNames } from '../src/marketplace/names.js';
import { buildConfigMap, buildDeployment } from '../src/marketplace/workloads.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { ClientClosedError, ErrorReply, SocketTimeoutError } from 'redis';
import { createHash } from 'node:crypto';

const REQUIRED = {
  GORTEN_MONGO_ADMIN_URL: 'mongodb://admin:secret@mongo:27017/?authSource=admin',
  GORTEN_RABBITMQ_MANAGEMENT_URL: 'http://rabbitmq:15672',
  GORTEN_RABBITMQ_ADMIN_USER: 'admin',
  GORTEN_RABBITMQ_ADMIN_PASSWORD: 'secret',
};

const mp: Marketplace = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Marketplace',
  metadata: { name: 'acme', uid: 'uid-1' },
  spec: { displayName: 'ACME', host: 'acme.shop.example.com' },
};

describe('the tenant’s ACL user', () => {
  test('is rebuilt from reset: on, one password, its own keys and channels, then the commands', () => {
    expect(tenantCacheUserRules('mp-acme:', 'pw').slice(0, 5)).toEqual([
      'reset',
      'on',
      '>pw',
      '~mp-acme:*',
      '&mp-acme:*',
    ]);
    expect(tenantCacheUserRules('mp-acme:', 'pw').slice(5)).toEqual(CACHE_COMMAND_RULES);
  });

  test('starts from no command, and takes dangerous and cross-tenant ones away after the grants', () => {
    expect(CACHE_COMMAND_RULES[0]).toBe('-@all');
    const lastGrant = Math.max(...CACHE_COMMAND_RULES.map((r, i) => (r.startsWith('+') ? i : -1)));
    const denials = CACHE_COMMAND_RULES.slice(lastGrant + 1);
    for (const denied of ['-@dangerous', '-@admin', '-scan', '-select', '-function', '-pubsub'])
      expect(denials).toContain(denied);
    expect(CACHE_COMMAND_RULES).not.toContain('+@all');
  });

  const canonical = { flags: ['on', 'sanitize-payload'], commands: '-@all +@string' };
  const live = {
    flags: ['sanitize-payload', 'on'],
    passwords: [createHash('sha256').update('pw').digest('hex')],
    commands: '-@all +@string',
    keys: '~mp-acme:*',
    channels: '&mp-acme:*',
    selectors: [],
  };

  test('as wanted: same flags, commands, password, keys, channels and no selectors', () => {
    expect(matchesWanted(live, canonical, 'mp-acme:', 'pw')).toBe(true);
  });

  test.each([
    ['missing', null],
    ['another password', { ...live, passwords: ['00'] }],
    ['a second password', { ...live, passwords: [...live.passwords, '00'] }],
    ['every key', { ...live, keys: '~*' }],
    ['every channel', { ...live, channels: '&*' }],
    ['every command', { ...live, commands: '+@all' }],
    ['switched off', { ...live, flags: ['off', 'sanitize-payload'] }],
    ['a selector', { ...live, selectors: [{ commands: '+@all' }] }],
  ])('%s: rewritten', (_what, edited) => {
    expect(matchesWanted(edited, canonical, 'mp-acme:', 'pw')).toBe(false);
  });

  test('refusals by the server are AclRefused, anything else it answers RedisError', () => {
    expect(redisReason(new ErrorReply('NOPERM User x has no permissions'))).toBe('AclRefused');
    expect(redisReason(new ErrorReply('WRONGPASS invalid username-password pair'))).toBe(
      'AclRefused',
    );
    expect(redisReason(new ErrorReply('ERR unknown command'))).toBe('RedisError');
    expect(redisReason(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(
      'RedisUnavailable',
    );
    expect(redisReason(new SocketTimeoutError(5_000))).toBe('RedisUnavailable');
    expect(redisReason(new ClientClosedError())).toBe('RedisUnavailable');
    expect(redisReason(new Error('something else'))).toBe('RedisError');
  });
});

test('the services’ URL escapes the password and names the tenant’s own user', () => {
  expect(cacheUri('mp-acme', 'p@ss/w:rd', 'redis.gorten-system.svc:6379')).toBe(
    'redis://mp-acme:p%40ss%2Fw%3Ard@redis.gorten-system.svc:6379',
  );
  const secret = buildCacheSecret(mp, '127.0.0.1:6380', 'secret');
  expect(secret.metadata.name).toBe(tenantNames('acme').cacheSecret);
  expect(passwordOf(secret)).toBe('secret');
  const uri = Buffer.from((secret.data as Record<string, string>).uri ?? '', 'base64').toString();
  expect(uri).toBe('redis://mp-acme:secret@127.0.0.1:6380');
});

describe('the operator’s Redis settings', () => {
  test('unset (or empty): no cache, no tenant host', () => {
    for (const env of [REQUIRED, { ...REQUIRED, GORTEN_REDIS_ADMIN_URL: ' ' }]) {
      const config = loadConfig(env);
      expect(config.redisAdmin).toBeUndefined();
      expect(config.settings.redisTenantHost).toBeUndefined();
    }
  });

  test('an admin URL on loopback is the tenants’ address too; elsewhere the in-cluster one, unless set', () => {
    expect(redisTenantHost('redis://default:pw@127.0.0.1:6390', undefined)).toBe('127.0.0.1:6390');
    expect(redisTenantHost('redis://default:pw@localhost', undefined)).toBe('localhost:6379');
    expect(redisTenantHost('redis://admin:pw@redis-0.redis:6379', undefined)).toBe(
      'redis.gorten-system.svc:6379',
    );
    const config = loadConfig({
      ...REQUIRED,
      GORTEN_REDIS_ADMIN_URL: 'redis://admin:pw@redis-0.redis:6379',
      GORTEN_REDIS_TENANT_HOST: 'cache.example:6379',
    });
    expect(config.redisAdmin).toEqual({ url: 'redis://admin:pw@redis-0.redis:6379' });
    expect(config.settings.redisTenantHost).toBe('cache.example:6379');
  });

  test.each(['not a url', 'http://admin:hunter2@redis:6379', 'redis://'])(
    'the admin URL %s does not stop start-up: the cache plane reports it, and the password is not repeated',
    (url) => {
      const target = redisAdminTarget(url);
      expect('invalid' in target && target.invalid).toMatch(/^GORTEN_REDIS_ADMIN_URL /);
      expect(JSON.stringify(target)).not.toContain('hunter2');
      const config = loadConfig({ ...REQUIRED, GORTEN_REDIS_ADMIN_URL: url });
      expect(config.redisAdmin).toEqual(target);
      expect(config.settings.redisTenantHost).toBeUndefined();
    },
  );

  test('a tenant host that is not host:port stops start-up, naming the variable', () => {
    const load = () =>
      loadConfig({
        ...REQUIRED,
        GORTEN_REDIS_ADMIN_URL: 'redis://default:pw@127.0.0.1:6379',
        GORTEN_REDIS_TENANT_HOST: 'redis://cache:6379',
      });
    expect(load).toThrow(/GORTEN_REDIS_TENANT_HOST: must be host:port/);
  });
});

describe('the services, with and without a cache', () => {
  const env = (d: KubeObject) =>
    (
      d.spec as {
        template: { spec: { containers: { env: { name: string; valueFrom?: unknown }[] }[] } };
      }
    ).template.spec.containers[0]?.env ?? [];
  const on = { ...DEFAULT_SETTINGS, redisTenantHost: 'redis.gorten-system.svc:6379' };

  test('on: REDIS_URL from redis-credentials in every service, the key prefix in the ConfigMap', () => {
    expect(
      env(buildDeployment(mp, 'catalog', on, 'd')).find((e) => e.name === 'REDIS_URL'),
    ).toEqual({
      name: 'REDIS_URL',
      valueFrom: { secretKeyRef: { name: 'redis-credentials', key: 'uri' } },
    });
    expect(buildConfigMap(mp, on).data).toMatchObject({ REDIS_KEY_PREFIX: 'mp-acme:' });
  });

  test('off: neither (the services read from the database)', () => {
    expect(
      env(buildDeployment(mp, 'catalog', DEFAULT_SETTINGS, 'd')).map((e) => e.name),
    ).not.toContain('REDIS_URL');
    expect(buildConfigMap(mp, DEFAULT_SETTINGS).data).not.toHaveProperty('REDIS_KEY_PREFIX');
  });
});
