// MessagingReady: the tenant's vhost and user on RabbitMQ with the topology of
// rabbitmq/topology.json, and the Secret `rabbitmq-credentials` the services connect
// with. The Secret is written first, so a password is never set without being kept.
import { BrokerError } from '../../clients/rabbitmq-admin.js';
import { ready } from '../../runtime/plan.js';
import { BROKER_PERMISSIONS, buildBrokerSecret } from '../credentials.js';
import { tenantTopology } from '../topology.js';
import { applyOwned, type TenantPlane } from './tenant.js';

export const messagingPlane: TenantPlane<'MessagingReady'> = {
  condition: 'MessagingReady',

  async converge(tenant) {
    const { deps, mp, names, credentials } = tenant;
    const { rabbit } = deps;
    await applyOwned(tenant, [buildBrokerSecret(mp, deps.settings, credentials.brokerPassword)]);
    await rabbit.ensureVhost(names.vhost);
    // The operator's own user declares the topology, so it needs rights in the vhost.
    await rabbit.ensurePermissions(names.vhost, rabbit.adminUser, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
    await rabbit.ensureUser(names.brokerUser, credentials.brokerPassword);
    await rabbit.ensurePermissions(names.vhost, names.brokerUser, BROKER_PERMISSIONS);
    const changes = await rabbit.ensureTopology(names.vhost, tenantTopology());
    if (changes.length > 0)
      deps.log.info({ marketplace: mp.metadata.name, changes }, 'topology converged');
    return ready('Provisioned', `vhost ${names.vhost}, user ${names.brokerUser}`);
  },

  failureReason: (err) => (err instanceof BrokerError ? err.reason : 'ApplyFailed'),

  async drop(deps, names) {
    await deps.rabbit.deleteTenant(names.vhost, names.brokerUser);
  },
};
