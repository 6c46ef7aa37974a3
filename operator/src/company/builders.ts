// What a Company gets, pure: its record in the tenant database, and its API credential —
// an RS256 key pair whose public half Kong knows (JWT credential, key = companyId) and
// whose consumer is in the tenant's ACL group. Everything is owned by the Company, so
// deleting it garbage-collects the credential: access is revoked.
import {
  operatorCompanyRecord,
  type CompanyRecord,
  type CompanyStatus,
} from '@gorten/kit/tenant-contract';
import type { Company } from '../api/types.js';
import type { KubeObject } from '../clients/kube.js';
import { credentialSecret, kongConsumer } from '../kong.js';
import { controlledBy, MANAGED_BY, tenantNames } from '../marketplace/names.js';
import type { OperatorSettings } from '../settings.js';
import { encodeSecretData, keyPairData, type KeyPair } from '../secrets.js';

/** Stable across restarts and re-applies: derived from the object's uid. */
export function companyId(company: Company): string {
  return `co_${(company.metadata.uid ?? '').replaceAll('-', '')}`;
}

export function companyNames(company: Company) {
  const base = `company-${company.metadata.name}`;
  return {
    consumer: base,
    credentialsSecret: `${base}-credentials`,
    jwtCredential: `${base}-jwt`,
    aclCredential: `${base}-acl`,
  };
}

function owned(company: Company): KubeObject['metadata']['ownerReferences'] {
  return controlledBy('Company', company);
}

function labels(company: Company, marketplace: string): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/part-of': 'gorten',
    'gorten.io/marketplace': marketplace,
    'gorten.io/company': company.metadata.name,
  };
}

/**
 * The company's document in the tenant's `companies` collection (the contract with the
 * services is @gorten/kit/tenant-contract). `credential` is the
 * public half of its API key pair, which the users service checks client-credentials
 * assertions against; null while the company is suspended or removed.
 */
export function companyRecord(
  company: Company,
  publicPem: string | null,
  status: CompanyStatus = company.spec.suspended ? 'suspended' : 'active',
): Omit<CompanyRecord, '_id'> {
  const { _id, ...fields } = operatorCompanyRecord({
    id: companyId(company),
    displayName: company.spec.displayName,
    contactEmail: company.spec.contactEmail,
    status,
    publicKey: publicPem,
  });
  return fields;
}

/** The key pair Secret the company's integration signs its tokens with. */
export function buildCompanyKeySecret(
  company: Company,
  marketplace: string,
  keys: KeyPair,
): KubeObject {
  const names = companyNames(company);
  const values = {
    ...keyPairData(keys),
    'key-id': companyId(company),
    algorithm: 'RS256',
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: names.credentialsSecret,
      namespace: company.metadata.namespace,
      labels: labels(company, marketplace),
      ownerReferences: owned(company),
    },
    type: 'Opaque',
    data: encodeSecretData(values),
  };
}

/** Kong consumer and credentials; a suspended company keeps its consumer but no credential. */
export function buildCompanyGateway(
  company: Company,
  marketplace: string,
  settings: OperatorSettings,
  publicPem: string,
): KubeObject[] {
  const names = companyNames(company);
  const tenant = tenantNames(marketplace);
  const ns = company.metadata.namespace;
  const ownerReferences = owned(company);
  const lbls = labels(company, marketplace);
  const credentials = company.spec.suspended
    ? []
    : [
        credentialSecret(
          ns,
          names.jwtCredential,
          'jwt',
          { key: companyId(company), algorithm: 'RS256', rsa_public_key: publicPem },
          ownerReferences,
          lbls,
        ),
        credentialSecret(
          ns,
          names.aclCredential,
          'acl',
          { group: tenant.aclGroup },
          ownerReferences,
          lbls,
        ),
      ];
  const consumer = kongConsumer(
    ns,
    names.consumer,
    `${ns}-${names.consumer}`,
    credentials.map((c) => c.metadata.name),
    ownerReferences,
    lbls,
    settings,
  );
  return [...credentials, { ...consumer, custom_id: companyId(company) }];
}
