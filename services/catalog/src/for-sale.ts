// Who sells here: only a company that is active. A company that is suspended or removed
// (through the companies API, or its Company resource) sells nothing, while its products
// keep their own status, so they are on sale again the moment it is active again. The
// catalog lists with this; carts and checkout price with it.
import type { CompanyRecord } from '@gorten/kit';
import type { Collection } from 'mongodb';

/** Of `companyIds`, the companies that are active here. */
export async function activeCompanies(
  companies: Collection<CompanyRecord>,
  companyIds: Iterable<string>,
): Promise<Set<string>> {
  const ids = [...new Set(companyIds)];
  if (ids.length === 0) return new Set();
  const active = await companies
    .find({ _id: { $in: ids }, status: 'active' }, { projection: { _id: 1 } })
    .toArray();
  return new Set(active.map((c) => c._id));
}

/** Every company here that is not active (suspended or removed): few, if any. */
export async function inactiveCompanies(companies: Collection<CompanyRecord>): Promise<string[]> {
  const inactive = await companies
    .find({ status: { $ne: 'active' } }, { projection: { _id: 1 } })
    .toArray();
  return inactive.map((c) => c._id);
}
