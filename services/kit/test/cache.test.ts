// The read cache's edges that need no Redis: off without REDIS_URL (every read is its
// fill, nothing counted, the counter still declared), and a REDIS_URL without a key
// prefix refused by name — never echoing the URL, whose password it holds.
import { Registry } from 'prom-client';
import {
  ConfigError,
  createLogger,
  DependencyMetrics,
  noCache,
  openReadCache,
} from '../src/index.js';

const log = createLogger('test', 'silent');
const settings = { CACHE_TTL_SECONDS: 30, REDIS_TIMEOUT_MS: 100 };

test('without REDIS_URL the cache is off: reads are their fill, and nothing is counted', async () => {
  const registry = new Registry();
  const cache = openReadCache(settings, log, registry, new DependencyMetrics(registry));
  expect(cache).toBe(noCache);
  expect(cache.enabled).toBe(false);
  let fills = 0;
  const fill = () => Promise.resolve(JSON.stringify({ fill: ++fills }));
  const read = { cache: 'product', generations: ['g'], asked: 'x' } as const;
  expect(await cache.read(read, fill)).toBe('{"fill":1}');
  expect(await cache.read(read, fill)).toBe('{"fill":2}');
  await cache.invalidate(['g']);
  const text = await registry.metrics();
  expect(text).toContain('# TYPE gorten_cache_requests_total counter');
  expect(text).not.toMatch(/^gorten_cache_requests_total\{/m);
  expect(text).not.toContain('dependency="redis"');
});

test('a REDIS_URL without REDIS_KEY_PREFIX is refused by name, without the URL', () => {
  const url = 'redis://mp-shop:s3cret-password@127.0.0.1:1';
  const open = () => {
    const registry = new Registry();
    openReadCache({ ...settings, REDIS_URL: url }, log, registry, new DependencyMetrics(registry));
  };
  expect(open).toThrow(ConfigError);
  expect(open).toThrow(/REDIS_KEY_PREFIX/);
  expect(open).not.toThrow(/s3cret/);
});
