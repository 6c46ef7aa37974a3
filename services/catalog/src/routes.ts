// The catalog's HTTP API: validate → one use case → answer.
import { routeFor } from '@gorten/kit';
import { createCategory, deleteCategory, getCategory, updateCategory } from './categories.js';
import type { CatalogDeps } from './deps.js';
import { companyInventory } from './inventory.js';
import { createProduct, updateProduct } from './products.js';
import { categoriesJson, listingJson, productJson } from './read-cache.js';
import {
  category,
  categoryChange,
  categoryList,
  categoryParams,
  companyInventory as companyInventorySchema,
  companyParams,
  newCategory,
  newProduct,
  product,
  productChange,
  productPage,
  productParams,
  productQuery,
} from './schemas.js';

const route = routeFor<CatalogDeps>();

export const CATALOG_ROUTES = [
  route({
    method: 'get',
    path: '/categories',
    operationId: 'listCategories',
    summary: 'Every category, flat, each with its parent',
    tags: ['categories'],
    access: 'public',
    responses: { 200: { description: 'The categories.', schema: categoryList } },
    handle: async (_request, deps) => ({
      status: 200,
      json: await categoriesJson(deps),
      headers: { 'Cache-Control': 'public, max-age=60' },
    }),
  }),
  route({
    method: 'get',
    path: '/categories/:id',
    operationId: 'getCategory',
    summary: 'One category',
    tags: ['categories'],
    access: 'public',
    params: categoryParams,
    responses: { 200: { description: 'The category.', schema: category } },
    errors: { 404: 'No such category.' },
    handle: async ({ params }, deps) => ({ status: 200, body: await getCategory(deps, params.id) }),
  }),
  route({
    method: 'post',
    path: '/categories',
    operationId: 'createCategory',
    summary: 'Create a category (admins)',
    tags: ['categories'],
    access: ['admin'],
    body: newCategory,
    responses: { 201: { description: 'The new category.', schema: category } },
    errors: { 409: 'The slug is taken.', 422: 'Unknown parent, or nested too deep.' },
    handle: async ({ body }, deps) => {
      const created = await createCategory(deps, body);
      return { status: 201, body: created, headers: { Location: `/categories/${created.id}` } };
    },
  }),
  route({
    method: 'patch',
    path: '/categories/:id',
    operationId: 'updateCategory',
    summary: 'Rename or move a category (admins)',
    tags: ['categories'],
    access: ['admin'],
    params: categoryParams,
    body: categoryChange,
    responses: { 200: { description: 'The category.', schema: category } },
    errors: {
      404: 'No such category.',
      409: 'The slug is taken.',
      422: 'The move would make a cycle, or the parent is unknown, or nesting is too deep.',
    },
    handle: async ({ params, body }, deps) => ({
      status: 200,
      body: await updateCategory(deps, params.id, body),
    }),
  }),
  route({
    method: 'delete',
    path: '/categories/:id',
    operationId: 'deleteCategory',
    summary: 'Delete an empty category (admins)',
    tags: ['categories'],
    access: ['admin'],
    params: categoryParams,
    responses: { 204: { description: 'Deleted.' } },
    errors: { 404: 'No such category.', 409: 'It has subcategories or products.' },
    handle: async ({ params }, deps) => {
      await deleteCategory(deps, params.id);
      return { status: 204 };
    },
  }),
  route({
    method: 'get',
    path: '/products',
    operationId: 'listProducts',
    summary: 'Browse products: filter, sort, cursor pages',
    description:
      'Anyone sees active products. Drafts and archived ones: admins, and sellers asking about their own company (`company` + `status`).',
    tags: ['products'],
    access: 'optional',
    query: productQuery,
    responses: { 200: { description: 'A page of products.', schema: productPage } },
    errors: {
      403: 'A status other than active was asked for without the right.',
      422: 'minPrice exceeds maxPrice.',
    },
    handle: async ({ query, principal }, deps) => ({
      status: 200,
      json: await listingJson(deps, principal, query),
    }),
  }),
  route({
    method: 'get',
    path: '/products/:id',
    operationId: 'getProduct',
    summary: 'One product',
    tags: ['products'],
    access: 'optional',
    params: productParams,
    responses: { 200: { description: 'The product.', schema: product } },
    errors: { 404: 'No such product, or not one the caller may see.' },
    handle: async ({ params, principal }, deps) => ({
      status: 200,
      json: await productJson(deps, principal, params.id),
    }),
  }),
  route({
    method: 'post',
    path: '/products',
    operationId: 'createProduct',
    summary: 'Create a product for the seller’s company (or any company, for admins)',
    tags: ['products'],
    access: ['seller', 'admin'],
    body: newProduct,
    responses: { 201: { description: 'The new product.', schema: product } },
    errors: {
      409: 'The company already has this SKU.',
      422: 'Unknown or inactive company, unknown category, or a price not in the marketplace’s currency.',
    },
    handle: async ({ body, principal }, deps) => {
      const created = await createProduct(deps, principal, body);
      return { status: 201, body: created, headers: { Location: `/products/${created.id}` } };
    },
  }),
  route({
    method: 'patch',
    path: '/products/:id',
    operationId: 'updateProduct',
    summary: 'Change a product: details, price, stock, status (its company’s sellers, admins)',
    description:
      'Checkouts change the stock at any time: a new `stock` figure is taken only with the ' +
      '`version` it was read at (a 409 once the product changed); `stockAdjustment` adds to or ' +
      'takes from the stock as it is. Any change may send `version` as its precondition.',
    tags: ['products'],
    access: ['seller', 'admin'],
    params: productParams,
    body: productChange,
    responses: { 200: { description: 'The product.', schema: product } },
    errors: {
      404: 'No such product.',
      409: 'An illegal status change, the product changed since `version` (`version_mismatch`, with the current version), a stockAdjustment below zero (`insufficient_stock`), or the product kept changing.',
      422: 'Unknown category, a price not in the marketplace’s currency, or (sellers) the company is suspended or removed.',
    },
    handle: async ({ params, body, principal }, deps) => ({
      status: 200,
      body: await updateProduct(deps, principal, params.id, body),
    }),
  }),
  route({
    method: 'get',
    path: '/inventory/companies/:companyId',
    operationId: 'getCompanyInventory',
    summary: 'Stock figures of a company and its low-stock products (its sellers, admins)',
    tags: ['inventory'],
    access: ['seller', 'admin'],
    params: companyParams,
    responses: { 200: { description: 'The figures.', schema: companyInventorySchema } },
    handle: async ({ params, principal }, deps) => ({
      status: 200,
      body: await companyInventory(deps, principal, params.companyId),
    }),
  }),
];
