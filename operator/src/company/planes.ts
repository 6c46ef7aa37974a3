// The Company's two planes: Registered (its record in the tenant database, which
// publishes the public half of its key) and CredentialIssued (the key pair Secret and its
// Kong consumer; withheld while the company is suspended).
import { SHARED_COLLECTIONS } from '@gorten/kit/tenant-contract';
import type { Company, Marketplace } from '../api/types.js';
import { applySet } from '../clients/apply.js';
import type { OperatorClients } from '../manager.js';
import { ready, withheld, type Plane } from '../runtime/plan.js';
import type { KeyPair } from '../secrets.js';
import { tenantNames } from '../marketplace/names.js';
import {
  buildCompanyGateway,
  buildCompanyKeySecret,
  companyId,
  companyNames,
  companyRecord,
} from './builders.js';

export interface CompanyDeps extends Omit<OperatorClients, 'rabbit'> {
  /** The informers' copies, of Companies and of Marketplaces. */
  cached: (key: string) => Company | undefined;
  marketplace: (name: string) => Marketplace | undefined;
}

/** A Company in a live marketplace, with the key pair it keeps (or gets now). */
export interface Seller {
  deps: CompanyDeps;
  company: Company;
  marketplace: string;
  keys: KeyPair;
}

export const registeredPlane: Plane<'Registered', Seller> = {
  condition: 'Registered',

  async converge({ deps, company, marketplace, keys }) {
    const { database } = tenantNames(marketplace);
    const id = companyId(company);
    await deps.mongo.ensureDocument(
      database,
      SHARED_COLLECTIONS.companies,
      id,
      companyRecord(company, keys.publicPem),
    );
    return ready('Registered', `company ${id} in ${database}`);
  },

  failureReason: () => 'DatabaseUnavailable',
};

export const credentialPlane: Plane<'CredentialIssued', Seller> = {
  condition: 'CredentialIssued',

  async converge({ deps, company, marketplace, keys }) {
    await applySet(
      deps.kube,
      company.metadata.namespace,
      [
        buildCompanyKeySecret(company, marketplace, keys),
        ...buildCompanyGateway(company, marketplace, deps.settings, keys.publicPem),
      ],
      [{ apiVersion: 'v1', kind: 'Secret' }],
      ['gorten.io/company', company.metadata.name],
    );
    return company.spec.suspended
      ? withheld('Suspended', 'the API credential is withdrawn while the company is suspended')
      : ready(
          'Issued',
          `Kong consumer ${companyNames(company).consumer}, key id ${companyId(company)}`,
        );
  },

  failureReason: () => 'ApplyFailed',
};

export const COMPANY_PLANES = [registeredPlane, credentialPlane] as const;
