// The tenant's ServiceMonitor, written by the workloads plane when the cluster serves the
// kind (clients/service-monitors.ts), and reported as ScrapeConfigured, which Ready does
// not wait for: a cluster without the Prometheus Operator still runs tenants. Owned by
// the Marketplace like the workloads, so it is restored within a resync and collected.
import { KubeError } from '../../clients/kube.js';
import { NO_PROMETHEUS_OPERATOR, type ConditionUpdate } from '../../runtime/conditions.js';
import { buildServiceMonitor } from '../monitoring.js';
import { applyOwned, type Tenant } from './tenant.js';

export const SCRAPE_CONFIGURED = 'ScrapeConfigured';

const absent: ConditionUpdate = {
  type: SCRAPE_CONFIGURED,
  status: 'False',
  reason: NO_PROMETHEUS_OPERATOR,
  message:
    'the cluster serves no monitoring.coreos.com/v1 ServiceMonitor (the Prometheus Operator CRDs): none written',
};

/**
 * Applies the ServiceMonitor when the cluster serves the kind. Undefined when that is
 * not known (discovery failed): the condition stays as it was. A 404 means the CRD went
 * away since it was discovered: discovery is asked again, and the error stands only if
 * it still says the kind is served.
 */
export async function convergeServiceMonitor(tenant: Tenant): Promise<ConditionUpdate | undefined> {
  const { deps, mp, names } = tenant;
  const presence = await deps.serviceMonitors.check();
  if (presence === 'unknown') return undefined;
  if (presence === 'absent') return absent;
  try {
    await applyOwned(tenant, [buildServiceMonitor(mp, deps.settings)]);
  } catch (err) {
    if (!(err instanceof KubeError && err.status === 404)) throw err;
    if ((await deps.serviceMonitors.recheck()) !== 'present') return absent;
    throw err;
  }
  return {
    type: SCRAPE_CONFIGURED,
    status: 'True',
    reason: 'ServiceMonitorApplied',
    message: `ServiceMonitor ${names.serviceMonitor} selects the http port of the tenant's Services`,
  };
}
