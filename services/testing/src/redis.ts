// A Redis ACL user of a test's own, made with the operator's own rules for a tenant's
// (tenant-contract: keys and channels under one prefix, a cache's commands only), so a
// service under test proves it works with no more rights than it has in a cluster.
// Removing it removes its keys too.
import { randomBytes } from 'node:crypto';
import { tenantCacheUserRules } from '@gorten/kit/tenant-contract';
import { createClient } from 'redis';

export interface TenantRedisUser {
  /** redis://<user>:<password>@host:port, as REDIS_URL. */
  url: string;
  /** `<user>:`, as REDIS_KEY_PREFIX. */
  prefix: string;
  /** The keys under the prefix (listed with the admin's rights). */
  keys(): Promise<string[]>;
  /** A key's value, read with the admin's rights. */
  get(key: string): Promise<string | null>;
  /** Removes a key with the admin's rights, as Redis does when it evicts or expires one. */
  drop(key: string): Promise<void>;
  remove(): Promise<void>;
}

export async function tenantRedisUser(adminUrl: string, label: string): Promise<TenantRedisUser> {
  const name = `mp-${label}-${randomBytes(3).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const prefix = `${name}:`;
  const admin = createClient({ url: adminUrl });
  admin.on('error', () => undefined); // a test that stops its Redis sees it in its calls
  await admin.connect();
  await admin.sendCommand(['ACL', 'SETUSER', name, ...tenantCacheUserRules(prefix, password)]);
  const address = new URL(adminUrl).host;
  const keys = async () => {
    const found: string[] = [];
    for await (const batch of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1_000 }))
      found.push(...batch);
    return found;
  };
  return {
    url: `redis://${encodeURIComponent(name)}:${password}@${address}`,
    prefix,
    keys,
    get: (key) => admin.get(key),
    async drop(key) {
      await admin.del(key);
    },
    async remove() {
      try {
        const left = await keys();
        if (left.length > 0) await admin.unlink(left);
        await admin.sendCommand(['ACL', 'DELUSER', name]);
      } finally {
        admin.destroy();
      }
    },
  };
}
