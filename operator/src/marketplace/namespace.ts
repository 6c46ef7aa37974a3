// The tenant's namespace and its guard rails: quota, container defaults, and a
// NetworkPolicy that denies all ingress except from the gateway, monitoring and the tenant's
// own pods (checkout → payments), egress left open (databases, broker, relay, collector).
// A namespace of that name made by someone else is never adopted: it would be collected
// with the tenant. With the chart's RBAC the operator's rights inside it come from a
// RoleBinding it makes there first (`buildTenantRoleBinding`): none on Secrets elsewhere.
import type { Marketplace } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import type { OperatorSettings, TenantAccess } from '../settings.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';

function meta(mp: Marketplace, name: string, namespace?: string): KubeObject['metadata'] {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    labels: tenantLabels(mp),
    ownerReferences: ownedBy(mp),
  };
}

export function buildNamespace(mp: Marketplace): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta(mp, tenantNames(mp.metadata.name).namespace),
  };
}

/**
 * Whose the live namespace `mp-<name>` is: absent, this Marketplace's (it carries the
 * tenant label, or an ownerReference to this Marketplace's uid), or someone else's.
 */
export function namespaceClaim(
  mp: Marketplace,
  live: KubeObject | undefined,
): 'absent' | 'ours' | 'foreign' {
  if (!live) return 'absent';
  const labelled = live.metadata.labels?.['gorten.io/marketplace'] === mp.metadata.name;
  const owned = (live.metadata.ownerReferences ?? []).some(
    (ref) =>
      ref.kind === 'Marketplace' && mp.metadata.uid !== undefined && ref.uid === mp.metadata.uid,
  );
  return labelled || owned ? 'ours' : 'foreign';
}

/** Grants the operator's ServiceAccount the tenant ClusterRole in this namespace only. */
export function buildTenantRoleBinding(mp: Marketplace, access: TenantAccess): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(mp, 'gorten-operator', tenantNames(mp.metadata.name).namespace),
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: access.clusterRole,
    },
    subjects: [{ kind: 'ServiceAccount', ...access.serviceAccount }],
  };
}

export function buildResourceQuota(mp: Marketplace, settings: OperatorSettings): KubeObject {
  const { quota } = settings;
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: meta(mp, 'tenant-quota', tenantNames(mp.metadata.name).namespace),
    spec: {
      hard: {
        pods: String(quota.pods),
        'requests.cpu': quota.requestsCpu,
        'requests.memory': quota.requestsMemory,
        'limits.cpu': quota.limitsCpu,
        'limits.memory': quota.limitsMemory,
      },
    },
  };
}

export function buildLimitRange(mp: Marketplace, settings: OperatorSettings): KubeObject {
  const { requests, limits } = settings.containerDefaults;
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: meta(mp, 'tenant-defaults', tenantNames(mp.metadata.name).namespace),
    spec: {
      limits: [{ type: 'Container', defaultRequest: { ...requests }, default: { ...limits } }],
    },
  };
}

export function buildNetworkPolicy(mp: Marketplace, settings: OperatorSettings): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(mp, 'tenant-ingress', tenantNames(mp.metadata.name).namespace),
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { ...settings.gatewayNamespaceLabels } } },
            { namespaceSelector: { matchLabels: { ...settings.monitoringNamespaceLabels } } },
            { podSelector: {} },
          ],
        },
      ],
    },
  };
}

/** Everything of the namespace plane, in the order it is applied. */
export function buildNamespacePlane(mp: Marketplace, settings: OperatorSettings): KubeObject[] {
  return [
    buildNamespace(mp),
    buildResourceQuota(mp, settings),
    buildLimitRange(mp, settings),
    buildNetworkPolicy(mp, settings),
  ];
}
