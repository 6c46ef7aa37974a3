// Every name the operator derives from a Marketplace, in one place.
import { API_VERSION, type Marketplace } from '../api/types.js';
import type { V1OwnerReference } from '@kubernetes/client-node';

export const MANAGED_BY = 'gorten-operator';

export interface TenantNames {
  namespace: string;
  database: string;
  databaseUser: string;
  vhost: string;
  brokerUser: string;
  /** Secret with the MongoDB user's credentials. */
  databaseSecret: string;
  /** Secret with the RabbitMQ user's credentials. */
  brokerSecret: string;
  /** Redis ACL user of the tenant's cache, and the prefix of every key it may touch. */
  cacheUser: string;
  cacheKeyPrefix: string;
  /** Secret with the Redis user's credentials (the services' REDIS_URL). */
  cacheSecret: string;
  /** Secret with the RS256 key pair the users service signs access tokens with. */
  signingKeySecret: string;
  /** Secret with the mail relay's URL, read by the email worker. */
  smtpSecret: string;
  /** Secret with the first admin's email and generated password, read by users at start. */
  adminSecret: string;
  /** Secret with the key of the Idempotency-Key records' request fingerprints (HMAC). */
  idempotencySecret: string;
  /** ConfigMap with the tenant's non-secret settings, read by every service. */
  configMap: string;
  /** The Prometheus Operator ServiceMonitor of the tenant's services (when its CRD exists). */
  serviceMonitor: string;
  /** Kong ACL group whose members may call this tenant's API, and only this tenant's. */
  aclGroup: string;
  /** The `iss` of tokens the users service issues; Kong's jwt plugin looks it up. */
  tokenIssuer: string;
}

export function tenantNames(marketplace: string): TenantNames {
  const base = `mp-${marketplace}`;
  return {
    namespace: base,
    database: base,
    databaseUser: `${base}-app`,
    vhost: base,
    brokerUser: `${base}-app`,
    databaseSecret: 'mongodb-credentials',
    brokerSecret: 'rabbitmq-credentials',
    cacheUser: base,
    cacheKeyPrefix: `${base}:`,
    cacheSecret: 'redis-credentials',
    signingKeySecret: 'jwt-signing-key',
    smtpSecret: 'smtp-relay',
    adminSecret: 'admin-credentials',
    idempotencySecret: 'idempotency-key',
    configMap: 'tenant-config',
    serviceMonitor: 'gorten-services',
    aclGroup: base,
    tokenIssuer: `gorten/${base}`,
  };
}

/** The marketplace a tenant namespace belongs to, if it is one. */
export function marketplaceOfNamespace(namespace: string): string | undefined {
  return namespace.startsWith('mp-') ? namespace.slice(3) : undefined;
}

export function tenantLabels(mp: Marketplace): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/part-of': 'gorten',
    'gorten.io/marketplace': mp.metadata.name,
  };
}

/** Makes `owner` (a Marketplace or Company) the controller: the child is collected with it. */
export function controlledBy(
  kind: 'Marketplace' | 'Company',
  owner: { metadata: { name: string; uid?: string } },
): V1OwnerReference[] {
  return [
    {
      apiVersion: API_VERSION,
      kind,
      name: owner.metadata.name,
      uid: owner.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

export function ownedBy(mp: Marketplace): V1OwnerReference[] {
  return controlledBy('Marketplace', mp);
}
