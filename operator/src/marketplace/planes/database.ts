// DatabaseReady: the tenant's database and application user on MongoDB, and the Secret
// `mongodb-credentials` the services log in with. The Secret is written first, so a
// password is never set on the server without being kept.
import { buildDatabaseSecret } from '../credentials.js';
import { DatabaseError } from '../../clients/mongo-admin.js';
import { ready } from '../../runtime/plan.js';
import { applyOwned, type TenantPlane } from './tenant.js';

export const databasePlane: TenantPlane<'DatabaseReady'> = {
  condition: 'DatabaseReady',

  async converge(tenant) {
    const { deps, mp, names, credentials } = tenant;
    await applyOwned(tenant, [
      buildDatabaseSecret(mp, deps.settings, credentials.databasePassword),
    ]);
    const changes = await deps.mongo.ensureTenantDatabase(
      names.database,
      names.databaseUser,
      credentials.databasePassword,
    );
    if (changes.length > 0)
      deps.log.info({ marketplace: mp.metadata.name, changes }, 'database converged');
    return ready('Provisioned', `database ${names.database}, user ${names.databaseUser}`);
  },

  failureReason: (err) => (err instanceof DatabaseError ? err.reason : 'ApplyFailed'),

  async drop(deps, names) {
    await deps.mongo.dropTenantDatabase(names.database, names.databaseUser);
  },
};
