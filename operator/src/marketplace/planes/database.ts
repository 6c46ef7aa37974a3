// DatabaseReady: the tenant's database and application user on MongoDB, and the Secret
// `mongodb-credentials` the services log in with. The Secret is written first, so a
// password is never set on the server without being kept. DatabaseIsolated says whether
// that user is confined to its database (not on a server without roles, FerretDB 1.x).
import { buildDatabaseSecret } from '../credentials.js';
import { DatabaseError } from '../../clients/mongo-admin.js';
import type { ConditionUpdate } from '../../runtime/conditions.js';
import { ready } from '../../runtime/plan.js';
import { applyOwned, type TenantPlane } from './tenant.js';

/** Reported beside DatabaseReady; Ready does not wait for it (a test server has no roles). */
export const DATABASE_ISOLATED = 'DatabaseIsolated';

function isolation(rolesSupported: boolean, database: string, user: string): ConditionUpdate {
  return rolesSupported
    ? {
        type: DATABASE_ISOLATED,
        status: 'True',
        reason: 'ReadWriteOnOwnDatabase',
        message: `${user} may read and write ${database} only`,
      }
    : {
        type: DATABASE_ISOLATED,
        status: 'False',
        reason: 'NoRoleSupport',
        message: `the database server has no roles (FerretDB): ${user} can read and write other tenants' databases too; use MongoDB for tenants that must be isolated`,
      };
}

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
    const isolated = isolation(
      await deps.mongo.rolesSupported(),
      names.database,
      names.databaseUser,
    );
    return {
      ...ready('Provisioned', `database ${names.database}, user ${names.databaseUser}`),
      informational: [isolated],
    };
  },

  failureReason: (err) => (err instanceof DatabaseError ? err.reason : 'ApplyFailed'),

  async drop(deps, names) {
    await deps.mongo.dropTenantDatabase(names.database, names.databaseUser);
  },
};
