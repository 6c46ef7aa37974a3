// Categories form a tree: each has at most one parent, slugs are unique, and a move
// that would put a category under itself or its own descendant is refused. The tree is
// small, so it is read whole when a walk is needed.
import { conflict, isDuplicateKey, newId, notFound, unprocessable } from '@gorten/kit';
import type { CatalogDeps } from './deps.js';
import { categoriesChanged } from './cache-generations.js';
import type { Category } from './schemas.js';
import type { CategoryDoc } from './store.js';

/** Deep enough for any shop; keeps walks and breadcrumbs bounded. */
export const MAX_DEPTH = 8;

export function toCategory(doc: CategoryDoc): Category {
  return {
    id: doc._id,
    name: doc.name,
    slug: doc.slug,
    parentId: doc.parentId,
    ...(doc.description ? { description: doc.description } : {}),
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}

/** Ancestors of `id`, nearest first (pure: `parents` maps each id to its parent). */
export function ancestors(parents: ReadonlyMap<string, string | null>, id: string): string[] {
  const chain: string[] = [];
  for (let at = parents.get(id); at; at = parents.get(at)) {
    if (chain.includes(at)) break; // a cycle in stored data must not hang us
    chain.push(at);
  }
  return chain;
}

/** `id` and every category below it (pure). */
export function subtree(parents: ReadonlyMap<string, string | null>, id: string): string[] {
  return [...parents.keys()].filter((c) => c === id || ancestors(parents, c).includes(id));
}

export async function parentMap(deps: CatalogDeps): Promise<Map<string, string | null>> {
  const all = await deps.store.categories.find({}, { projection: { parentId: 1 } }).toArray();
  return new Map(all.map((c) => [c._id, c.parentId]));
}

/** Refuses a parent that is unknown, would close a cycle, or nests too deep. */
function checkParent(
  parents: ReadonlyMap<string, string | null>,
  id: string,
  parentId: string | null,
): void {
  if (parentId === null) return;
  if (!parents.has(parentId)) throw unprocessable('The parent category does not exist.');
  if (parentId === id || ancestors(parents, parentId).includes(id))
    throw unprocessable('A category cannot be moved under itself or one of its descendants.');
  const below = Math.max(
    0,
    ...subtree(parents, id).map((c) => ancestors(parents, c).indexOf(id) + 1),
  );
  if (ancestors(parents, parentId).length + 1 + below >= MAX_DEPTH)
    throw unprocessable(`Categories nest at most ${MAX_DEPTH} deep.`);
}

export async function createCategory(
  deps: CatalogDeps,
  input: { name: string; slug: string; parentId?: string | null; description?: string },
): Promise<Category> {
  const id = newId('cat');
  const parentId = input.parentId ?? null;
  checkParent(await parentMap(deps), id, parentId);
  const now = deps.now();
  const doc: CategoryDoc = {
    _id: id,
    name: input.name,
    slug: input.slug,
    parentId,
    ...(input.description ? { description: input.description } : {}),
    createdAt: now,
    updatedAt: now,
  };
  try {
    await deps.store.categories.insertOne(doc);
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict(`The slug ${input.slug} is taken.`);
    throw err;
  }
  await categoriesChanged(deps.cache);
  return toCategory(doc);
}

export async function updateCategory(
  deps: CatalogDeps,
  id: string,
  change: { name?: string; slug?: string; parentId?: string | null; description?: string },
): Promise<Category> {
  const parents = await parentMap(deps);
  if (!parents.has(id)) throw notFound('No such category.');
  if (change.parentId !== undefined) checkParent(parents, id, change.parentId);
  try {
    const updated = await deps.store.categories.findOneAndUpdate(
      { _id: id },
      { $set: { ...change, updatedAt: deps.now() } },
      { returnDocument: 'after' },
    );
    if (!updated) throw notFound('No such category.');
    await categoriesChanged(deps.cache);
    return toCategory(updated);
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict(`The slug ${change.slug ?? ''} is taken.`);
    throw err;
  }
}

export async function deleteCategory(deps: CatalogDeps, id: string): Promise<void> {
  if (await deps.store.categories.findOne({ parentId: id }))
    throw conflict('The category has subcategories; move or delete them first.');
  if (await deps.store.products.findOne({ categoryId: id }, { projection: { _id: 1 } }))
    throw conflict('Products are in this category; move them first.');
  const deleted = await deps.store.categories.deleteOne({ _id: id });
  if (deleted.deletedCount === 0) throw notFound('No such category.');
  await categoriesChanged(deps.cache);
}

export async function listCategories(deps: CatalogDeps): Promise<Category[]> {
  const docs = await deps.store.categories
    .find({})
    .sort({ name: 1, _id: 1 })
    .limit(2_000)
    .toArray();
  return docs.map(toCategory);
}

export async function getCategory(deps: CatalogDeps, id: string): Promise<Category> {
  const doc = await deps.store.categories.findOne({ _id: id });
  if (!doc) throw notFound('No such category.');
  return toCategory(doc);
}
