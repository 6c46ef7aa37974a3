// CacheReady: the tenant's Redis ACL user (its own key prefix, no dangerous commands) and
// the Secret `redis-credentials` the services' REDIS_URL comes from. The Secret is written
// first, so a password is never set on the server without being kept. Every resync
// restores a deleted or edited user. Without a Redis admin URL the cache is off.
import { RedisAdminError } from '../../clients/redis-admin.js';
import { ready } from '../../runtime/plan.js';
import { buildCacheSecret } from '../credentials.js';
import { applyOwned, type TenantPlane } from './tenant.js';

export const cachePlane: TenantPlane<'CacheReady'> = {
  condition: 'CacheReady',

  async converge(tenant) {
    const { deps, mp, names, credentials } = tenant;
    const { redis, settings } = deps;
    if (!redis)
      return ready(
        'Disabled',
        'no Redis is configured (GORTEN_REDIS_ADMIN_URL): the services read from the database',
      );
    // Set together with a usable admin URL (config.ts); absent, the admin reports why.
    if (settings.redisTenantHost)
      await applyOwned(tenant, [
        buildCacheSecret(mp, settings.redisTenantHost, credentials.cachePassword),
      ]);
    const change = await redis.ensureTenantUser(
      names.cacheUser,
      names.cacheKeyPrefix,
      credentials.cachePassword,
    );
    if (change !== 'unchanged')
      deps.log.info({ marketplace: mp.metadata.name, change }, 'cache user converged');
    return ready('Provisioned', `user ${names.cacheUser}, keys ${names.cacheKeyPrefix}*`);
  },

  failureReason: (err) => (err instanceof RedisAdminError ? err.reason : 'ApplyFailed'),

  async drop(deps, names) {
    await deps.redis?.dropTenant(names.cacheUser, names.cacheKeyPrefix);
  },
};
