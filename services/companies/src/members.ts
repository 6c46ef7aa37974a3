// Memberships: which users act for which company. Admins add and remove them; the users
// service reads them at sign-in to put a seller's company in the token. Only active
// sellers join, and only active companies take members.
import {
  afterCursor,
  assertActsForCompany,
  conflict,
  isDuplicateKey,
  notFound,
  page,
  unprocessable,
  type CompanyMemberRecord,
  type Principal,
} from '@gorten/kit';
import { readableCompany } from './companies.js';
import type { CompaniesDeps } from './deps.js';
import type { Member } from './schemas.js';
import { membershipId } from './store.js';

export function toMember(doc: CompanyMemberRecord): Member {
  return { userId: doc.userId, addedAt: doc.addedAt.toISOString(), addedBy: doc.addedBy };
}

export async function listMembers(
  deps: CompaniesDeps,
  principal: Principal,
  companyId: string,
  query: { limit: number; cursor?: string },
): Promise<{ items: Member[]; nextCursor: string | null }> {
  assertActsForCompany(principal, companyId);
  await readableCompany(deps, principal, companyId);
  const docs = await deps.store.members
    .find({ companyId, ...afterCursor('_id', 1, query.cursor) })
    .sort({ _id: 1 })
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => d._id);
  return { items: result.items.map(toMember), nextCursor: result.nextCursor };
}

async function assertTakesMembers(deps: CompaniesDeps, companyId: string): Promise<void> {
  const company = await deps.store.companies.findOne({ _id: companyId });
  if (!company) throw notFound('No such company.');
  if (company.status !== 'active')
    throw conflict(`The company is ${company.status}; only active companies take members.`);
}

async function assertMayJoin(deps: CompaniesDeps, userId: string): Promise<void> {
  const user = await deps.store.users.findOne(
    { _id: userId },
    { projection: { roles: 1, status: 1 } },
  );
  if (!user) throw unprocessable('No such user.');
  if (user.status !== 'active') throw unprocessable('The user is disabled.');
  if (!user.roles.includes('seller'))
    throw unprocessable('Only sellers act for a company; give the user the seller role first.');
}

/** Adds the user to the company, once; `created` is false when they were a member already. */
export async function addMember(
  deps: CompaniesDeps,
  admin: Principal,
  companyId: string,
  userId: string,
): Promise<{ member: Member; created: boolean }> {
  await assertTakesMembers(deps, companyId);
  await assertMayJoin(deps, userId);
  const doc: CompanyMemberRecord = {
    _id: membershipId(companyId, userId),
    companyId,
    userId,
    addedAt: deps.now(),
    addedBy: admin.userId,
  };
  try {
    await deps.store.members.insertOne(doc);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await deps.store.members.findOne({ _id: doc._id });
    if (!existing) throw conflict('The membership changed meanwhile; try again.');
    return { member: toMember(existing), created: false };
  }
  // Removal marks the company, then deletes its memberships: one added in between is
  // found here and withdrawn, so a removed company never keeps a member.
  try {
    await assertTakesMembers(deps, companyId);
  } catch (err) {
    await deps.store.members.deleteOne({ _id: doc._id });
    throw err;
  }
  return { member: toMember(doc), created: true };
}

export async function removeMember(
  deps: CompaniesDeps,
  companyId: string,
  userId: string,
): Promise<void> {
  const removed = await deps.store.members.deleteOne({ _id: membershipId(companyId, userId) });
  if (removed.deletedCount === 0) throw notFound('The user is not a member of this company.');
}
