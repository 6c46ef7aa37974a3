// Requests, answers and events of the catalog: the source of its OpenAPI document.
import {
  atLeastOneField,
  COMPANY_ID_PATTERN,
  idPattern,
  pageOf,
  pageQuery,
  trimmedText,
} from '@gorten/kit';
import { z } from 'zod';
import { PRODUCT_SORTS } from './product-rules.js';
import { PRODUCT_STATUSES } from './store.js';

export const categoryId = z.string().regex(idPattern('cat'), 'must be a category id');
export const productId = z.string().regex(idPattern('prd'), 'must be a product id');
export const companyId = z.string().regex(COMPANY_ID_PATTERN, 'must be a company id');

const slug = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lower-case words joined by hyphens');

export const category = z.object({
  id: z.string(),
  name: z.string(),
  slug: z.string(),
  parentId: z.string().nullable(),
  description: z.string().optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Category = z.infer<typeof category>;

export const categoryList = z.object({ items: z.array(category) });

export const newCategory = z.strictObject({
  name: trimmedText(100),
  slug,
  parentId: categoryId.nullable().optional(),
  description: z.string().max(2_000).optional(),
});

export const categoryChange = atLeastOneField(
  z.strictObject({
    name: trimmedText(100).optional(),
    slug: slug.optional(),
    parentId: categoryId.nullable().optional(),
    description: z.string().max(2_000).optional(),
  }),
  'at least one field is required',
);

export const categoryParams = z.strictObject({ id: categoryId });

export const money = z.strictObject({
  amount: z.number().int().min(0).max(100_000_000_00).describe('Minor units (cents).'),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

export const product = z.object({
  id: z.string(),
  companyId: z.string(),
  sku: z.string(),
  name: z.string(),
  description: z.string(),
  categoryId: z.string().nullable(),
  price: z.object({ amount: z.number().int(), currency: z.string() }),
  stock: z.number().int(),
  status: z.enum(PRODUCT_STATUSES),
  lowStockThreshold: z.number().int(),
  version: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Product = z.infer<typeof product>;

export const productPage = pageOf(product);

const stock = z.number().int().min(0).max(10_000_000);
const sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');

export const newProduct = z.strictObject({
  companyId: companyId.optional().describe('Required for admins; a seller’s is their own.'),
  sku,
  name: trimmedText(200),
  description: z.string().max(10_000).default(''),
  categoryId: categoryId.nullable().default(null),
  price: money,
  stock: stock.default(0),
  status: z.enum(['draft', 'active']).default('draft'),
  lowStockThreshold: stock.optional().describe('Defaults to the marketplace’s.'),
});

export type NewProduct = z.output<typeof newProduct>;

/**
 * A change of a product. Checkouts change the stock at any time, so a new figure (`stock`)
 * is taken only with the `version` it was read at; `stockAdjustment` adds to (or takes
 * from) the figure as it is, with no version needed. Both rules are in the schema's
 * JSON form too (`dependentRequired`, `not`).
 */
const CHANGEABLE = [
  'name',
  'description',
  'categoryId',
  'price',
  'stock',
  'stockAdjustment',
  'status',
  'lowStockThreshold',
] as const;

export const productChange = z
  .strictObject({
    version: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('The version the change is based on: a 409 if the product changed since.'),
    name: trimmedText(200).optional(),
    description: z.string().max(10_000).optional(),
    categoryId: categoryId.nullable().optional(),
    price: money.optional(),
    stock: stock.optional().describe('The new figure left to sell; needs `version`.'),
    stockAdjustment: z
      .number()
      .int()
      .min(-10_000_000)
      .max(10_000_000)
      .optional()
      .describe('Units received (positive) or taken away (negative), applied as the stock is.'),
    status: z.enum(PRODUCT_STATUSES).optional(),
    lowStockThreshold: stock.optional(),
  })
  .refine((c) => Object.keys(c).some((k) => k !== 'version'), 'at least one field is required')
  .refine((c) => c.stock === undefined || c.version !== undefined, {
    message: 'required with stock (the version the figure was read at); or send stockAdjustment',
    path: ['version'],
  })
  .refine((c) => c.stock === undefined || c.stockAdjustment === undefined, {
    message: 'stock and stockAdjustment exclude each other',
    path: ['stockAdjustment'],
  })
  .meta({
    // One field to change besides `version`, as the first refinement says.
    anyOf: CHANGEABLE.map((field) => ({ required: [field] })),
    dependentRequired: { stock: ['version'] },
    not: { required: ['stock', 'stockAdjustment'] },
  });

export type ProductChange = z.output<typeof productChange>;

export const productParams = z.strictObject({ id: productId });

const price = z.coerce.number().int().min(0);
/** minPrice ≤ maxPrice relates two fields, which JSON Schema cannot: product-rules.ts, 422. */
export const productQuery = z.strictObject({
  ...pageQuery,
  sort: z.enum(PRODUCT_SORTS).default('newest'),
  category: categoryId.optional().describe('This category and its descendants.'),
  company: companyId.optional(),
  status: z
    .enum(PRODUCT_STATUSES)
    .optional()
    .describe('Default active; others for admins and the company’s sellers.'),
  q: z.string().min(1).max(100).optional().describe('Part of the name, any case.'),
  minPrice: price.optional(),
  maxPrice: price.optional(),
});

export const companyParams = z.strictObject({ companyId });

export const companyInventory = z.object({
  companyId: z.string(),
  products: z.number().int().describe('Listed and draft products (archived ones do not count).'),
  units: z.number().int(),
  lowStock: z.number().int(),
  lowStockProducts: z.array(
    z.object({
      productId: z.string(),
      sku: z.string(),
      name: z.string(),
      stock: z.number().int(),
      threshold: z.number().int(),
    }),
  ),
  updatedAt: z.iso.datetime().nullable(),
});

/** product.added / product.updated, as published to product_exchange. */
export const productEvent = z.object({
  productId: z.string(),
  companyId: z.string(),
  sku: z.string(),
  name: z.string(),
  status: z.enum(PRODUCT_STATUSES),
  price: z.object({ amount: z.number().int(), currency: z.string() }),
  stock: z.number().int().min(0),
  lowStockThreshold: z.number().int().min(0),
  version: z.number().int().min(1),
});
export type ProductEvent = z.infer<typeof productEvent>;

/** inventory.low_stock, to notification_exchange. */
export interface LowStockNotice {
  companyId: string;
  productId: string;
  sku: string;
  name: string;
  stock: number;
  threshold: number;
}
