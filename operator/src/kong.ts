// Kong Ingress Controller's consumer objects, shared by the tenant's token issuer
// (marketplace/gateway.ts) and each Company's API credential (company/builders.ts): a
// KongConsumer and the Secrets KIC turns into its JWT and ACL credentials.
import type { KubeObject } from './clients/kube.js';
import { encodeSecretData } from './secrets.js';
import type { OperatorSettings } from './settings.js';

/** Secrets that KIC turns into Kong credentials of a consumer (label konghq.com/credential). */
export function credentialSecret(
  namespace: string,
  name: string,
  type: 'jwt' | 'acl',
  values: Record<string, string>,
  ownerReferences: KubeObject['metadata']['ownerReferences'],
  labels: Record<string, string>,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { ...labels, 'konghq.com/credential': type },
      ownerReferences,
    },
    type: 'Opaque',
    data: encodeSecretData(values),
  };
}

export function kongConsumer(
  namespace: string,
  name: string,
  username: string,
  credentials: string[],
  ownerReferences: KubeObject['metadata']['ownerReferences'],
  labels: Record<string, string>,
  settings: OperatorSettings,
): KubeObject {
  return {
    apiVersion: 'configuration.konghq.com/v1',
    kind: 'KongConsumer',
    metadata: {
      name,
      namespace,
      labels,
      ownerReferences,
      annotations: { 'kubernetes.io/ingress.class': settings.ingressClass },
    },
    username,
    credentials,
  };
}
