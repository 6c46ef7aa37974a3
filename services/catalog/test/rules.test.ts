// The catalog's pure rules: status changes, who sees what, listing filters, the tree.
import { encodeCursor, Problem, type Principal } from '@gorten/kit';
import { ancestors, subtree } from '../src/categories.js';
import { isLow } from '../src/inventory.js';
import { assertTransition, productFilter, sortSpec } from '../src/product-rules.js';

const admin: Principal = { userId: 'usr_a', roles: ['admin'] };
const seller: Principal = { userId: 'usr_s', roles: ['seller'], companyId: 'co_a' };
const buyer: Principal = { userId: 'usr_b', roles: ['buyer'] };
const base = { limit: 20, sort: 'newest' as const };

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof Problem ? err.status : -1;
  }
}

test.each([
  ['draft', 'active', undefined],
  ['draft', 'archived', undefined],
  ['active', 'archived', undefined],
  ['archived', 'active', undefined],
  ['active', 'active', undefined],
  ['active', 'draft', 409],
  ['archived', 'draft', 409],
] as const)('%s → %s', (from, to, expected) => {
  expect(statusOf(() => assertTransition(from, to))).toBe(expected);
});

describe('listing filter', () => {
  test('anyone gets active products only', () => {
    expect(productFilter(base, undefined, undefined)).toEqual({ status: 'active' });
  });

  test('unlisted products: admins, and sellers about their own company only', () => {
    expect(statusOf(() => productFilter({ ...base, status: 'draft' }, buyer, undefined))).toBe(403);
    expect(statusOf(() => productFilter({ ...base, status: 'draft' }, seller, undefined))).toBe(
      403,
    );
    expect(
      statusOf(() =>
        productFilter({ ...base, status: 'draft', company: 'co_b' }, seller, undefined),
      ),
    ).toBe(403);
    expect(productFilter({ ...base, status: 'draft', company: 'co_a' }, seller, undefined)).toEqual(
      { $and: [{ status: 'draft' }, { companyId: 'co_a' }] },
    );
    expect(productFilter({ ...base, status: 'archived' }, admin, undefined)).toEqual({
      status: 'archived',
    });
  });

  test('products of inactive companies are left out, but not for their sellers and admins', () => {
    const inactive = ['co_a', 'co_x'];
    expect(productFilter(base, buyer, undefined, inactive)).toEqual({
      $and: [{ status: 'active' }, { companyId: { $nin: ['co_a', 'co_x'] } }],
    });
    expect(productFilter(base, undefined, undefined, inactive)).toEqual({
      $and: [{ status: 'active' }, { companyId: { $nin: ['co_a', 'co_x'] } }],
    });
    expect(productFilter(base, seller, undefined, inactive)).toEqual({
      $and: [{ status: 'active' }, { companyId: { $nin: ['co_x'] } }],
    });
    expect(productFilter(base, admin, undefined, inactive)).toEqual({ status: 'active' });
  });

  test('a price range that ends before it starts is a 422 (JSON Schema cannot relate two fields)', () => {
    expect(
      statusOf(() => productFilter({ ...base, minPrice: 9, maxPrice: 1 }, buyer, undefined)),
    ).toBe(422);
    expect(productFilter({ ...base, minPrice: 5, maxPrice: 5 }, buyer, undefined)).toMatchObject({
      $and: [{ status: 'active' }, { 'price.amount': { $gte: 5, $lte: 5 } }],
    });
  });

  test('combines category subtree, escaped name search, price range and the cursor', () => {
    const cursor = encodeCursor(1500, 'prd_000000000000000000000001');
    expect(
      productFilter(
        { ...base, sort: 'price', q: 'a.b*', minPrice: 100, maxPrice: 2000, cursor },
        undefined,
        ['cat_1', 'cat_2'],
      ),
    ).toEqual({
      $and: [
        { status: 'active' },
        { categoryId: { $in: ['cat_1', 'cat_2'] } },
        { name: { $regex: 'a\\.b\\*', $options: 'i' } },
        { 'price.amount': { $gte: 100, $lte: 2000 } },
        {
          $or: [
            { 'price.amount': { $gt: 1500 } },
            { 'price.amount': 1500, _id: { $gt: 'prd_000000000000000000000001' } },
          ],
        },
      ],
    });
  });

  test('sorts break ties by id in the same direction', () => {
    expect(sortSpec('newest')).toEqual({ _id: -1 });
    expect(sortSpec('-price')).toEqual({ 'price.amount': -1, _id: -1 });
    expect(sortSpec('name')).toEqual({ name: 1, _id: 1 });
  });
});

describe('category tree', () => {
  const parents = new Map<string, string | null>([
    ['root', null],
    ['a', 'root'],
    ['b', 'a'],
    ['c', 'b'],
    ['other', null],
  ]);

  test('ancestors are nearest first; a subtree includes the category', () => {
    expect(ancestors(parents, 'c')).toEqual(['b', 'a', 'root']);
    expect(ancestors(parents, 'root')).toEqual([]);
    expect(subtree(parents, 'a').sort()).toEqual(['a', 'b', 'c']);
  });

  test('a cycle in stored data does not hang the walk', () => {
    const broken = new Map<string, string | null>([
      ['x', 'y'],
      ['y', 'x'],
    ]);
    expect(ancestors(broken, 'x')).toEqual(['y', 'x']);
  });
});

test('low stock: at or under the threshold, unless archived', () => {
  expect(isLow({ status: 'active', stock: 5, lowStockThreshold: 5 })).toBe(true);
  expect(isLow({ status: 'draft', stock: 0, lowStockThreshold: 5 })).toBe(true);
  expect(isLow({ status: 'active', stock: 6, lowStockThreshold: 5 })).toBe(false);
  expect(isLow({ status: 'archived', stock: 0, lowStockThreshold: 5 })).toBe(false);
});
