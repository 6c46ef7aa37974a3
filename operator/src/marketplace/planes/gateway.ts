// GatewayReady: the tenant's Kong resources on spec.host (plugins, a route per Ingress,
// the catch-all, the token issuer's consumer). A gateway that names a plugin Kong would
// silently drop is refused as InvalidGatewayConfig before anything is written.
import { ready } from '../../runtime/plan.js';
import { buildGatewayPlane, GatewayConfigError } from '../gateway.js';
import { applyOwned, type TenantPlane } from './tenant.js';

/** Routes come and go with the spec (all but the catch-all while suspended), so they are pruned. */
const INGRESS = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' } as const;

export const gatewayPlane: TenantPlane<'GatewayReady'> = {
  condition: 'GatewayReady',

  async converge(tenant) {
    const { deps, mp, credentials } = tenant;
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
