// The tenant's ServiceMonitor (Prometheus Operator): every service's Service has the named
// port `http`, which serves /metrics too, so one ServiceMonitor selects them all. The
// tenant labels series itself (`marketplace`, from the monitor, not from what a pod says).
import type { Marketplace } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import type { OperatorSettings } from '../settings.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';
import { SERVICE_COMPONENT } from './workloads.js';

export const SERVICE_MONITOR = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' };

export function buildServiceMonitor(mp: Marketplace, settings: OperatorSettings): KubeObject {
  const names = tenantNames(mp.metadata.name);
  return {
    ...SERVICE_MONITOR,
    metadata: {
      name: names.serviceMonitor,
      namespace: names.namespace,
      // The labels a Prometheus selects monitors by first, so the tenant's own win.
      labels: { ...settings.tenantMonitorLabels, ...tenantLabels(mp) },
      ownerReferences: ownedBy(mp),
    },
    spec: {
      // In its own namespace only (no namespaceSelector): the tenant's Services.
      selector: {
        matchLabels: {
          'gorten.io/marketplace': mp.metadata.name,
          'app.kubernetes.io/component': SERVICE_COMPONENT,
        },
      },
      endpoints: [
        {
          port: 'http',
          path: '/metrics',
          relabelings: [
            { action: 'replace', targetLabel: 'marketplace', replacement: mp.metadata.name },
          ],
          // The services label their own series with `service` and `marketplace` too; the
          // target's labels (from Kubernetes) win, and the pod's copies are dropped, so a
          // pod cannot report as another tenant or service.
          metricRelabelings: [{ action: 'labeldrop', regex: 'exported_(marketplace|service)' }],
        },
      ],
    },
  };
}
