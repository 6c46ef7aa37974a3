// What the operator and the services agree on in a tenant: in its database the
// collections more than one component uses, and the company record, with the one
// function that makes the operator's; in its vhost the queues that go with each work
// queue (rabbitmq/topology.json declares them). The operator imports this module alone
// (@gorten/kit/tenant-contract), so it imports nothing.

export const SHARED_COLLECTIONS = {
  /**
   * Written by the operator (Company resources) and the companies service (API-made);
   * each writes only its own records, told apart by `managedBy`.
   */
  companies: 'companies',
  /** Written by the companies service: which users act for which company. */
  companyMembers: 'company_members',
  /** Written by the users service; the companies service reads who may become a member. */
  users: 'users',
} as const;

/** Company ids: `co_` and 32 hex digits (operator, from the resource's uid) or 24 (API). */
export const COMPANY_ID_PATTERN = /^co_[0-9a-f]{24,32}$/;

/** `managedBy` of the records the operator keeps for Company resources. */
export const MANAGED_BY_OPERATOR = 'gorten-operator';

export type CompanyStatus = 'active' | 'suspended' | 'removed';

export interface CompanyRecord {
  _id: string;
  displayName: string;
  contactEmail: string;
  status: CompanyStatus;
  /** MANAGED_BY_OPERATOR for Company resources, `api` for companies made through the API. */
  managedBy: string;
  /** The public key of the company's API credential; null while it may not sign in. */
  credential?: { keyId: string; algorithm: 'RS256'; publicKey: string } | null;
  description?: string;
  createdAt?: Date;
  updatedAt?: Date;
}

/**
 * The record the operator keeps for a Company resource: no description, no timestamps,
 * and its credential's public key only while it is active.
 */
export function operatorCompanyRecord(company: {
  id: string;
  displayName: string;
  contactEmail: string;
  status: CompanyStatus;
  publicKey: string | null;
}): CompanyRecord {
  const { id, status, publicKey } = company;
  return {
    _id: id,
    displayName: company.displayName,
    contactEmail: company.contactEmail,
    status,
    managedBy: MANAGED_BY_OPERATOR,
    credential:
      status === 'active' && publicKey ? { keyId: id, algorithm: 'RS256', publicKey } : null,
  };
}

/**
 * Where a work queue's messages wait after a dependency failed (the database, the mail
 * relay): a queue with a message TTL that dead-letters them back into the work queue.
 * Nothing consumes it; waiting there uses up none of the work queue's delivery limit.
 */
export const retryQueueOf = (queue: string): string => `${queue}.retry`;

/** The longest wait in a retry queue: its `x-message-ttl`, and the consumer's cap. */
export const RETRY_QUEUE_TTL_MS = 30_000;

/** Where a work queue's poison and its messages past the delivery limit are dead-lettered. */
export const deadLetterQueueOf = (queue: string): string => `${queue}.dlq`;
