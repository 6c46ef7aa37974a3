// REST paths of the kinds the operator touches. A fixed table instead of API discovery:
// the operator only ever writes these kinds, and a typo fails loudly here.

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

const RESOURCES: Record<string, ResourceInfo> = {
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'v1/Secret': { plural: 'secrets', namespaced: true },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/ResourceQuota': { plural: 'resourcequotas', namespaced: true },
  'v1/LimitRange': { plural: 'limitranges', namespaced: true },
  'v1/Event': { plural: 'events', namespaced: true },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  'networking.k8s.io/v1/NetworkPolicy': { plural: 'networkpolicies', namespaced: true },
  'networking.k8s.io/v1/Ingress': { plural: 'ingresses', namespaced: true },
  'coordination.k8s.io/v1/Lease': { plural: 'leases', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'configuration.konghq.com/v1/KongPlugin': { plural: 'kongplugins', namespaced: true },
  'configuration.konghq.com/v1/KongConsumer': { plural: 'kongconsumers', namespaced: true },
  'configuration.konghq.com/v1beta1/KongUpstreamPolicy': {
    plural: 'kongupstreampolicies',
    namespaced: true,
  },
  'monitoring.coreos.com/v1/ServiceMonitor': { plural: 'servicemonitors', namespaced: true },
  'gorten.io/v1alpha1/Marketplace': { plural: 'marketplaces', namespaced: false },
  'gorten.io/v1alpha1/Company': { plural: 'companies', namespaced: true },
};

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
}

/** /api/v1/namespaces/x/secrets/y, or the collection path when `name` is absent. */
export function resourcePath(ref: ObjectRef): string {
  const info = RESOURCES[`${ref.apiVersion}/${ref.kind}`];
  if (!info) throw new Error(`the operator does not know the kind ${ref.apiVersion} ${ref.kind}`);
  const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  if (info.namespaced && !ref.namespace && ref.name) {
    throw new Error(`${ref.kind} ${ref.name} needs a namespace`);
  }
  const ns =
    info.namespaced && ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const name = ref.name ? `/${encodeURIComponent(ref.name)}` : '';
  return `${base}${ns}/${info.plural}${name}`;
}
