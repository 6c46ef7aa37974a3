// The companies service's collections. `companies` is shared with the operator: this
// service writes only the documents it made (`managedBy: 'api'`) and the description of
// any. `company_members` is this service's alone. `users` belongs to the users service
// and is only read, to check who may become a member.
import {
  SHARED_COLLECTIONS,
  type CollectionIndexes,
  type CompanyMemberRecord,
  type CompanyRecord,
  type CompanyStatus,
  type Role,
} from '@gorten/kit';
import type { Collection, Db } from 'mongodb';

export const COMPANY_STATUSES = [
  'active',
  'suspended',
  'removed',
] as const satisfies readonly CompanyStatus[];

/** `managedBy` of companies made through this API; any other manager owns its record. */
export const API_MANAGED = 'api';

/** The fields of a users-service document this service reads. */
export interface UserRecord {
  _id: string;
  roles: Role[];
  status: 'active' | 'disabled';
}

export interface CompaniesStore {
  companies: Collection<CompanyRecord>;
  members: Collection<CompanyMemberRecord>;
  users: Collection<UserRecord>;
}

export function companiesStore(db: Db): CompaniesStore {
  return {
    companies: db.collection(SHARED_COLLECTIONS.companies),
    members: db.collection(SHARED_COLLECTIONS.companyMembers),
    users: db.collection(SHARED_COLLECTIONS.users),
  };
}

export function membershipId(companyId: string, userId: string): string {
  return `${companyId}:${userId}`;
}

export const COMPANIES_INDEXES: CollectionIndexes[] = [
  { collection: SHARED_COLLECTIONS.companies, indexes: [{ key: { status: 1 }, name: 'status' }] },
  {
    collection: SHARED_COLLECTIONS.companyMembers,
    // By company for its member list and removal; by user for the users service's sign-in.
    indexes: [
      { key: { companyId: 1 }, name: 'company' },
      { key: { userId: 1 }, name: 'user' },
    ],
  },
];
