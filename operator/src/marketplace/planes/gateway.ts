// GatewayReady: the tenant's Kong resources on spec.host (plugins, a route per Ingress,
// the catch-all, the token issuer's consumer). A gateway that names a plugin Kong would
// silently drop is refused as InvalidGatewayConfig before anything is written; a host
// another Marketplace holds is refused as HostConflict, and this tenant's routes withdrawn.
import { failed, ready } from '../../runtime/plan.js';
import { buildGatewayPlane, GatewayConfigError, hostHolder } from '../gateway.js';
import { applyOwned, type TenantPlane } from './tenant.js';

/** Routes come and go with the spec (all but the catch-all while suspended), so they are pruned. */
const INGRESS = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' } as const;

export const gatewayPlane: TenantPlane<'GatewayReady'> = {
  condition: 'GatewayReady',

  async converge(tenant) {
    const { deps, mp, credentials } = tenant;
    const holder = hostHolder(mp, deps.marketplaces());
    if (holder) {
      // Two tenants' routes on one host: Kong would pick either, and send one tenant's
      // logins to the other's pods. Only the holder's stay.
      await applyOwned(tenant, [], [INGRESS]);
      return failed(
        'HostConflict',
        `host ${mp.spec.host} is Marketplace ${holder.metadata.name}'s (it came first); no route is published: choose another host`,
      );
    }
    const objects = buildGatewayPlane(mp, deps.settings, credentials.signingKey.publicPem);
    await applyOwned(tenant, objects, [INGRESS]);
    const routes = objects.filter((o) => o.kind === 'Ingress').length;
    return mp.spec.suspended
      ? ready('Suspended', `${mp.spec.host} answers 503`)
      : ready('Configured', `${routes} routes on ${mp.spec.host}`);
  },

  failureReason: (err) =>
    err instanceof GatewayConfigError ? 'InvalidGatewayConfig' : 'ApplyFailed',
};
