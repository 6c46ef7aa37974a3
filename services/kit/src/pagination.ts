// Cursor pagination by keyset: a page ends at (sort value, _id) and the cursor says where
// the next page starts, so pages stay stable while documents are added — unlike skip.
// A cursor is opaque: one the schema lets through but this API did not issue is a 422.
import { z } from 'zod';
import { unprocessable } from './problem.js';

/** The answer to a well-formed cursor that decodes to nothing this API issued. */
export const FOREIGN_CURSOR = 'The cursor is not one this API issued.';

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Items per page (1–100).'),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional()
    .describe('`nextCursor` of the previous page.'),
};

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` for the next page; null at the end.'),
  });
}

type Key = string | number;
const cursorSchema = z.tuple([z.union([z.string(), z.number()]), z.string()]);

export function encodeCursor(sortValue: Key, id: string): string {
  return Buffer.from(JSON.stringify([sortValue, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [Key, string] {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw unprocessable(FOREIGN_CURSOR);
  }
}

/**
 * The filter for the page after `cursor` when sorting by `field` (then `_id`) in
 * `direction`; with `field` = `_id` the sort value is the id itself.
 */
export function afterCursor(
  field: string,
  direction: 1 | -1,
  cursor: string | undefined,
): Record<string, unknown> {
  if (!cursor) return {};
  const [value, id] = decodeCursor(cursor);
  const beyond = direction === 1 ? '$gt' : '$lt';
  if (field === '_id') return { _id: { [beyond]: id } };
  return { $or: [{ [field]: { [beyond]: value } }, { [field]: value, _id: { [beyond]: id } }] };
}

/** Reads one more than `limit` to know whether another page follows. */
export function page<T extends { _id: string }>(
  docs: T[],
  limit: number,
  sortValue: (doc: T) => Key,
): { items: T[]; nextCursor: string | null } {
  const items = docs.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: docs.length > limit && last ? encodeCursor(sortValue(last), last._id) : null,
  };
}
