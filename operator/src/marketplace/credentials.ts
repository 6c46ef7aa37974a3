// Secrets with the tenant's credentials and keys, as the services read them. Pure: the
// password or key comes in (kept from the existing Secret, or freshly generated).
import type { Marketplace } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import type { Permissions } from '../clients/rabbitmq-admin.js';
import type { OperatorSettings } from '../settings.js';
import { ownedBy, tenantLabels, tenantNames } from './names.js';
import { encodeSecretData, keyPairData, secretValue, type KeyPair } from '../secrets.js';

/** The tenant's services publish and consume; only the operator declares topology. */
export const BROKER_PERMISSIONS: Permissions = { configure: '^$', write: '.*', read: '.*' };

function secret(mp: Marketplace, name: string, values: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: tenantNames(mp.metadata.name).namespace,
      labels: tenantLabels(mp),
      ownerReferences: ownedBy(mp),
    },
    type: 'Opaque',
    data: encodeSecretData(values),
  };
}

export function buildDatabaseSecret(
  mp: Marketplace,
  settings: OperatorSettings,
  password: string,
): KubeObject {
  const names = tenantNames(mp.metadata.name);
  const uri = `mongodb://${encodeURIComponent(names.databaseUser)}:${encodeURIComponent(password)}@${settings.mongoTenantHost}/${names.database}?authSource=${names.database}`;
  return secret(mp, names.databaseSecret, {
    username: names.databaseUser,
    password,
    database: names.database,
    uri,
  });
}

export function buildBrokerSecret(
  mp: Marketplace,
  settings: OperatorSettings,
  password: string,
): KubeObject {
  const names = tenantNames(mp.metadata.name);
  const uri = `amqp://${encodeURIComponent(names.brokerUser)}:${encodeURIComponent(password)}@${settings.amqpTenantHost}/${encodeURIComponent(names.vhost)}`;
  return secret(mp, names.brokerSecret, {
    username: names.brokerUser,
    password,
    vhost: names.vhost,
    uri,
  });
}

/** The services' Redis URL: the tenant's own ACL user, at Redis as the pods reach it. */
export function cacheUri(user: string, password: string, tenantHost: string): string {
  return `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${tenantHost}`;
}

export function buildCacheSecret(
  mp: Marketplace,
  tenantHost: string,
  password: string,
): KubeObject {
  const names = tenantNames(mp.metadata.name);
  return secret(mp, names.cacheSecret, {
    username: names.cacheUser,
    password,
    uri: cacheUri(names.cacheUser, password, tenantHost),
  });
}

export function buildSmtpSecret(mp: Marketplace, settings: OperatorSettings): KubeObject {
  return secret(mp, tenantNames(mp.metadata.name).smtpSecret, { uri: settings.smtpUrl });
}

export function adminEmail(mp: Marketplace): string {
  return mp.spec.adminEmail ?? `admin@${mp.spec.host}`;
}

/** The tenant's first admin: users creates the account at start if it does not exist. */
export function buildAdminSecret(mp: Marketplace, password: string): KubeObject {
  return secret(mp, tenantNames(mp.metadata.name).adminSecret, {
    email: adminEmail(mp),
    password,
  });
}

/** The password kept in an existing credentials Secret, if it holds one. */
export function passwordOf(existing: KubeObject | undefined): string | undefined {
  return secretValue(existing, 'password');
}

/** The tenant's token signing key pair (RS256), generated once and kept in a Secret. */
export function buildSigningKeySecret(mp: Marketplace, keys: KeyPair): KubeObject {
  return secret(mp, tenantNames(mp.metadata.name).signingKeySecret, keyPairData(keys));
}

/**
 * The key of the tenant's request fingerprints (HMAC-SHA256 in the Idempotency-Key
 * records of checkout and orders), generated once and kept in a Secret.
 */
export function buildIdempotencySecret(mp: Marketplace, key: string): KubeObject {
  return secret(mp, tenantNames(mp.metadata.name).idempotencySecret, { 'hmac-key': key });
}

/** The fingerprint key kept in an existing Secret, if it holds one. */
export function idempotencyKeyOf(existing: KubeObject | undefined): string | undefined {
  return secretValue(existing, 'hmac-key');
}
