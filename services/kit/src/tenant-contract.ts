// What the operator and the services agree on in a tenant: in its database the
// collections more than one component uses, and the company record, with the one
// function that makes the operator's; in its vhost the queues that go with each work
// queue (rabbitmq/topology.json declares them); in its Redis what its ACL user may do. The operator imports this module alone
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

/**
 * The commands a tenant's Redis user may run, after `-@all` (Redis 7.0 ACL rules, applied in
 * order). What a read cache with stampede locks and invalidation needs, on its own keys:
 * reading, writing and expiring any data type (@read @write @keyspace and the type
 * categories), Lua scripts whose every call is checked against the same key rules
 * (@scripting), MULTI/EXEC (@transaction), publish/subscribe on its own channels (@pubsub),
 * and logging in (@connection: HELLO, AUTH, PING, CLIENT SETNAME). Then taken away:
 * - @dangerous (KEYS, FLUSHALL, FLUSHDB, CONFIG, DEBUG, SWAPDB, MIGRATE, RESTORE, SORT,
 *   CLIENT LIST/KILL, MONITOR...) and @admin;
 * - what shows other tenants' key or channel names or counts: SCAN, RANDOMKEY, DBSIZE,
 *   PUBSUB CHANNELS/NUMSUB;
 * - SELECT, MOVE and COPY: keys in another database would escape the drop on deletion,
 *   which scans database 0;
 * - FUNCTION (libraries are shared by every user: FUNCTION FLUSH/DELETE would remove other
 *   tenants'), SCRIPT FLUSH, SCRIPT KILL (another tenant's running script) and SCRIPT DEBUG
 *   (SYNC mode blocks the server).
 */
export const CACHE_COMMAND_RULES: readonly string[] = [
  '-@all',
  '+@read',
  '+@write',
  '+@keyspace',
  '+@string',
  '+@hash',
  '+@list',
  '+@set',
  '+@sortedset',
  '+@scripting',
  '+@transaction',
  '+@pubsub',
  '+@connection',
  '-@dangerous',
  '-@admin',
  '-scan',
  '-randomkey',
  '-dbsize',
  '-pubsub',
  '-select',
  '-move',
  '-copy',
  '-function',
  '-script|flush',
  '-script|kill',
  '-script|debug',
];

/**
 * The full ACL SETUSER rule list of a tenant's user: `reset` first (no password, no keys,
 * no channels, no commands, off), so whatever was edited on the user is gone and the
 * result is exactly this list: on, one password, keys and channels under `prefix`.
 */
export function tenantCacheUserRules(prefix: string, password: string): string[] {
  return ['reset', 'on', `>${password}`, `~${prefix}*`, `&${prefix}*`, ...CACHE_COMMAND_RULES];
}
