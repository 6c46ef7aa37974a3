// Records in the tenant database that more than one service reads, beside the contract
// with the operator (tenant-contract.ts), and how their ids are made. Everything else a
// service stores is its own.
import { ObjectId } from 'mongodb';

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
