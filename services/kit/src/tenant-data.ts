// Collections in the tenant database that one component writes and others read. Each
// has exactly one writer; readers only read. Everything else a service stores is its own.
import { ObjectId } from 'mongodb';

export const SHARED_COLLECTIONS = {
  /** Written by the operator (Company resources) and the companies service (API-made). */
  companies: 'companies',
  /** Written by the companies service: which users act for which company. */
  companyMembers: 'company_members',
  /** Written by the users service; the companies service reads who may become a member. */
  users: 'users',
} as const;

/** Company ids: `co_` and 32 hex digits (operator, from the resource's uid) or 24 (API). */
export const COMPANY_ID_PATTERN = /^co_[0-9a-f]{24,32}$/;

export type CompanyStatus = 'active' | 'suspended' | 'removed';

export interface CompanyRecord {
  _id: string;
  displayName: string;
  contactEmail: string;
  status: CompanyStatus;
  /** `gorten-operator` for Company resources, `api` for companies made through the API. */
  managedBy: string;
  /** The public key of the company's API credential; null while it may not sign in. */
  credential?: { keyId: string; algorithm: 'RS256'; publicKey: string } | null;
  description?: string;
  createdAt?: Date;
  updatedAt?: Date;
}

export interface CompanyMemberRecord {
  /** `<companyId>:<userId>`: a membership exists once. */
  _id: string;
  companyId: string;
  userId: string;
  addedAt: Date;
  addedBy: string;
}

/** A new id: a prefix and an ObjectId, so ids sort by creation time. */
export function newId(prefix: string): string {
  return `${prefix}_${new ObjectId().toHexString()}`;
}

/** The shape of ids made by `newId(prefix)`, for validating path parameters. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[0-9a-f]{24}$`);
}
