// Companies: the public directory, and what admins and a company's own sellers may do to
// it. Who sees what: admins everything (a removed company only by listing removed ones);
// a company's sellers their own (unless removed); everyone else active companies' public
// face only — suspended and removed ones do not exist for them. A company recorded from a Kubernetes Company resource belongs to the
// operator, which rewrites its other fields on every reconcile, so the API changes only
// its description.
import {
  afterCursor,
  assertActsForCompany,
  conflict,
  forbidden,
  isAdmin,
  isSellerOf,
  newId,
  notFound,
  page,
  type CompanyRecord,
  type CompanyStatus,
  type Principal,
} from '@gorten/kit';
import type { Filter, UpdateFilter } from 'mongodb';
import type { CompaniesDeps } from './deps.js';
import type { Company, CompanyChange, PublicCompany } from './schemas.js';
import { API_MANAGED } from './store.js';

function visibility(
  principal: Principal | undefined,
  doc: CompanyRecord,
): 'full' | 'public' | 'none' {
  if (isAdmin(principal)) return 'full';
  if (isSellerOf(principal, doc._id) && doc.status !== 'removed') return 'full';
  return doc.status === 'active' ? 'public' : 'none';
}

export function toPublicCompany(doc: CompanyRecord): PublicCompany {
  return {
    id: doc._id,
    displayName: doc.displayName,
    description: doc.description ?? null,
    createdAt: doc.createdAt?.toISOString() ?? null,
  };
}

export function toCompany(doc: CompanyRecord): Company {
  return {
    ...toPublicCompany(doc),
    contactEmail: doc.contactEmail,
    status: doc.status,
    managedBy: doc.managedBy,
    updatedAt: doc.updatedAt?.toISOString() ?? null,
  };
}

/** The company as `principal` may see it; 404 when they may not see it at all. */
export async function visibleCompany(
  deps: CompaniesDeps,
  principal: Principal | undefined,
  id: string,
): Promise<{ doc: CompanyRecord; view: 'full' | 'public' }> {
  const doc = await deps.store.companies.findOne({ _id: id });
  const view = doc ? visibility(principal, doc) : 'none';
  if (!doc || view === 'none') throw notFound('No such company.');
  return { doc, view };
}

/**
 * As visibleCompany, for reads: a removed company is gone for everyone, admins too, as
 * after any DELETE (RFC 9110 §9.3.5). Its record stays (orders refer to it); admins list
 * it with `status=removed`, and a change to it says why it is refused (409).
 */
export async function readableCompany(
  deps: CompaniesDeps,
  principal: Principal | undefined,
  id: string,
): Promise<{ doc: CompanyRecord; view: 'full' | 'public' }> {
  const found = await visibleCompany(deps, principal, id);
  if (found.doc.status === 'removed') throw notFound('No such company.');
  return found;
}

export async function getCompany(
  deps: CompaniesDeps,
  principal: Principal | undefined,
  id: string,
): Promise<Company | PublicCompany> {
  const { doc, view } = await readableCompany(deps, principal, id);
  return view === 'full' ? toCompany(doc) : toPublicCompany(doc);
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function listCompanies(
  deps: CompaniesDeps,
  principal: Principal | undefined,
  query: { limit: number; cursor?: string; q?: string; status?: CompanyStatus },
): Promise<{ items: (Company | PublicCompany)[]; nextCursor: string | null }> {
  const admin = isAdmin(principal);
  if (!admin && query.status !== undefined && query.status !== 'active')
    throw forbidden('Only admins see companies that are not active.');
  const status = admin ? query.status : 'active';
  const filter: Filter<CompanyRecord> = {
    ...(status ? { status } : {}),
    ...(query.q ? { displayName: { $regex: escapeRegex(query.q), $options: 'i' } } : {}),
    ...afterCursor('_id', 1, query.cursor),
  };
  const docs = await deps.store.companies
    .find(filter)
    .sort({ _id: 1 })
    .limit(query.limit + 1)
    .toArray();
  const result = page(docs, query.limit, (d) => d._id);
  return {
    items: result.items.map(admin ? toCompany : toPublicCompany),
    nextCursor: result.nextCursor,
  };
}

export async function createCompany(
  deps: CompaniesDeps,
  input: { displayName: string; contactEmail: string; description?: string },
): Promise<Company> {
  const now = deps.now();
  const doc: CompanyRecord = {
    _id: newId('co'),
    displayName: input.displayName,
    contactEmail: input.contactEmail,
    ...(input.description !== undefined ? { description: input.description } : {}),
    status: 'active',
    managedBy: API_MANAGED,
    credential: null,
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.companies.insertOne(doc);
  return toCompany(doc);
}

/** What a seller may change of their own company; the rest is the admins'. */
const SELLER_FIELDS: readonly (keyof CompanyChange)[] = ['description', 'contactEmail'];
/** What the API may change of a company another manager (the operator) owns. */
const ALWAYS_API_FIELDS: readonly (keyof CompanyChange)[] = ['description'];

function managedElsewhere(doc: CompanyRecord, fields: string[]) {
  return conflict(
    `Company ${doc._id} is managed by its Kubernetes Company resource (managedBy: ` +
      `${doc.managedBy}): change ${fields.join(', ')} on that resource with kubectl; ` +
      'only description can be set through the API.',
  );
}

export async function updateCompany(
  deps: CompaniesDeps,
  principal: Principal,
  id: string,
  change: CompanyChange,
): Promise<Company> {
  assertActsForCompany(principal, id);
  const admin = isAdmin(principal);
  const fields = Object.keys(change) as (keyof CompanyChange)[];
  const notForSellers = fields.filter((f) => !SELLER_FIELDS.includes(f));
  if (!admin && notForSellers.length > 0)
    throw forbidden(
      `Sellers may change description and contactEmail, not ${notForSellers.join(', ')}.`,
    );
  const { doc } = await visibleCompany(deps, principal, id);
  if (doc.status === 'removed') throw conflict('The company was removed; it no longer changes.');
  if (!admin && doc.status !== 'active')
    throw conflict('The company is suspended; only an admin can change it now.');
  const locked = fields.filter((f) => !ALWAYS_API_FIELDS.includes(f));
  if (doc.managedBy !== API_MANAGED && locked.length > 0) throw managedElsewhere(doc, locked);

  const { description, ...rest } = change;
  const update: UpdateFilter<CompanyRecord> = {
    $set: {
      ...rest,
      ...(description !== undefined && description !== null ? { description } : {}),
      updatedAt: deps.now(),
    },
    ...(description === null ? { $unset: { description: '' } } : {}),
  };
  // Conditional on what was checked: a concurrent suspension or removal is not overwritten.
  const updated = await deps.store.companies.findOneAndUpdate(
    { _id: id, status: doc.status, managedBy: doc.managedBy },
    update,
    { returnDocument: 'after' },
  );
  if (!updated) throw conflict('The company changed meanwhile; read it again.');
  return toCompany(updated);
}

/** Marks the company removed (orders still refer to it) and ends its memberships. */
export async function removeCompany(deps: CompaniesDeps, id: string): Promise<void> {
  const doc = await deps.store.companies.findOne({ _id: id });
  if (!doc) throw notFound('No such company.');
  if (doc.managedBy !== API_MANAGED)
    throw conflict(
      `Company ${id} is managed by its Kubernetes Company resource: delete that resource with kubectl.`,
    );
  await deps.store.companies.updateOne(
    { _id: id, managedBy: API_MANAGED, status: { $ne: 'removed' } },
    { $set: { status: 'removed', updatedAt: deps.now() } },
  );
  // After the mark: a member added concurrently sees it and withdraws (members.ts).
  await deps.store.members.deleteMany({ companyId: id });
}
