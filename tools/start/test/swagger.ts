// What Swagger UI rendered, read from the DOM headless Chromium serialized: the definitions in
// its dropdown, the document's title, and the operation blocks (method, path, id), compared with
// the operations the OpenAPI document declares. Pure: start.int.test.ts fetches and renders.
// Swagger UI virtualizes documents of 100 operations or more (only those in view are in the
// DOM); Gorten's have about ten each.

export interface RenderedOperation {
  method: string;
  path: string;
  id: string;
}

interface OpenApiDocument {
  info: { title: string };
  paths: Record<string, Record<string, unknown>>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};
const decode = (text: string) => text.replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);

/** The definitions Swagger UI's "Select a definition" dropdown offers, by name. */
export function definitionNames(html: string): string[] {
  const select = /<select id="select">(.*?)<\/select>/s.exec(html)?.[1] ?? '';
  return [...select.matchAll(/<option [^>]*>([^<]*)<\/option>/g)].map((m) => decode(m[1] ?? ''));
}

/** The rendered document's title (its info.title), if a document rendered at all. */
export function renderedTitle(html: string): string | undefined {
  const title = /<hgroup class="main"><h1 class="title">([^<]*)/.exec(html)?.[1];
  return title === undefined ? undefined : decode(title).trim();
}

/** Swagger UI's error box (a document that failed to load or to parse), as text. */
export function renderedErrors(html: string): string | undefined {
  const box = /<pre class="errors-wrapper">(.*?)<\/pre>/s.exec(html)?.[1];
  if (box !== undefined)
    return decode(
      box
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    );
  return html.includes('Failed to load API definition')
    ? 'Failed to load API definition'
    : undefined;
}

/** Every operation block: `<div class="opblock opblock-get" id="operations-<tag>-<operationId>">`. */
export function renderedOperations(html: string): RenderedOperation[] {
  const blocks =
    /<div class="opblock [^"]*" id="([^"]*)">.*?<span class="opblock-summary-method">([A-Z]+)<\/span>.*?data-path="([^"]*)"/gs;
  return [...html.matchAll(blocks)].map((m) => ({
    id: decode(m[1] ?? ''),
    method: m[2] ?? '',
    path: decode(m[3] ?? ''),
  }));
}

/**
 * The operations `doc` declares that the DOM does not show, as "GET /products (listProducts)":
 * each must be rendered under every one of its tags ("default" without any), with its method
 * and path. Swagger UI's ids replace whitespace with _.
 */
export function missingOperations(doc: unknown, html: string): string[] {
  const rendered = new Set(
    renderedOperations(html).map((op) => `${op.method} ${op.path} ${op.id}`),
  );
  const missing: string[] = [];
  for (const [path, item] of Object.entries((doc as OpenApiDocument).paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const { operationId, tags } = operation as { operationId?: string; tags?: string[] };
      const name = `${method.toUpperCase()} ${path} (${operationId ?? 'no operationId'})`;
      if (!operationId) {
        missing.push(name);
        continue;
      }
      const ids = (tags?.length ? tags : ['default']).map((tag) =>
        `operations-${tag}-${operationId}`.replace(/\s/g, '_'),
      );
      if (!ids.every((id) => rendered.has(`${method.toUpperCase()} ${path} ${id}`))) {
        missing.push(name);
      }
    }
  }
  return missing;
}

/** How many operations `doc` declares. */
export function operationCount(doc: unknown): number {
  return Object.values((doc as OpenApiDocument).paths).flatMap((item) =>
    Object.keys(item as object).filter((method) => METHODS.has(method)),
  ).length;
}
