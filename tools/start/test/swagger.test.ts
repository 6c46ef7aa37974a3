// swagger.ts on DOM shaped as Swagger UI 5 renders it: the dropdown's definitions, the title,
// the error box, the operation blocks, and which declared operations are not shown.
import {
  definitionNames,
  missingOperations,
  operationCount,
  renderedErrors,
  renderedOperations,
  renderedTitle,
} from './swagger.js';

const block = (method: string, path: string, id: string, cls = `opblock-${method.toLowerCase()}`) =>
  `<div class="opblock ${cls}" id="${id}"><div class="opblock-summary opblock-summary-${method.toLowerCase()}">` +
  `<button aria-expanded="false" class="opblock-summary-control"><span class="opblock-summary-method">${method}</span>` +
  `<div class="opblock-summary-path-description-wrapper"><span class="opblock-summary-path" data-path="${path}">` +
  `<a class="nostyle"><span>${path}</span></a></span></div></button></div></div>`;

const page = [
  '<select id="select"><option value="/openapi/users.json">users</option><option value="/openapi/catalog.json">catalog</option></select>',
  '<div class="info"><hgroup class="main"><h1 class="title">Gorten catalog<span><small><pre class="version"> 0.1.0 </pre></small></span></h1></hgroup></div>',
  block('GET', '/products', 'operations-products-listProducts'),
  block('GET', '/products/{id}', 'operations-products-getProduct', 'opblock-get is-open'),
  block('DELETE', '/products/{id}', 'operations-products-deleteProduct', 'opblock-deprecated'),
  block('GET', '/search?a=1&amp;b=2', 'operations-default-search'),
  block('GET', '/stock', 'operations-stock_levels-getStock'),
].join('');

const doc = {
  info: { title: 'Gorten catalog' },
  paths: {
    '/products': {
      get: { operationId: 'listProducts', tags: ['products'] },
      post: { operationId: 'createProduct', tags: ['products'] },
    },
    '/products/{id}': {
      parameters: [],
      get: { operationId: 'getProduct', tags: ['products'] },
      delete: { operationId: 'deleteProduct', tags: ['products'] },
    },
    '/search?a=1&b=2': { get: { operationId: 'search' } },
    '/stock': { get: { operationId: 'getStock', tags: ['stock levels'] } },
  },
};

test('reads the dropdown, the title and the operation blocks (open and deprecated ones too)', () => {
  expect(definitionNames(page)).toEqual(['users', 'catalog']);
  expect(renderedTitle(page)).toBe('Gorten catalog');
  expect(renderedOperations(page)).toEqual([
    { method: 'GET', path: '/products', id: 'operations-products-listProducts' },
    { method: 'GET', path: '/products/{id}', id: 'operations-products-getProduct' },
    { method: 'DELETE', path: '/products/{id}', id: 'operations-products-deleteProduct' },
    { method: 'GET', path: '/search?a=1&b=2', id: 'operations-default-search' },
    { method: 'GET', path: '/stock', id: 'operations-stock_levels-getStock' },
  ]);
});

test('names each declared operation the page does not show', () => {
  expect(operationCount(doc)).toBe(6);
  expect(missingOperations(doc, page)).toEqual(['POST /products (createProduct)']);
  const wrongPath = {
    paths: { '/items': { get: { operationId: 'listProducts', tags: ['products'] } } },
  };
  expect(missingOperations(wrongPath, page)).toEqual(['GET /items (listProducts)']);
  const noId = { paths: { '/x': { get: { tags: ['x'] } } } };
  expect(missingOperations(noId, page)).toEqual(['GET /x (no operationId)']);
});

test('an empty or broken page has no title, no operations, or an error box', () => {
  expect(renderedTitle('<div id="swagger-ui"></div>')).toBeUndefined();
  expect(missingOperations(doc, '<div id="swagger-ui"></div>')).toHaveLength(6);
  expect(renderedErrors(page)).toBeUndefined();
  // As Swagger UI 5.35 shows a document the gateway could not fetch.
  const failed =
    '<h4 class="title">Failed to load API definition.</h4><pre class="errors-wrapper"><hgroup class="error">' +
    '<h4 class="errors__title">Errors</h4><button class="btn errors__clear-btn">Hide</button></hgroup>' +
    '<div class="no-margin"> <div class="errors"><div class="error-wrapper"><div><h4>Fetch error</h4>' +
    '<span class="message thrown">Bad Gateway /openapi/catalog.json</span></div></div></div> </div></pre>';
  expect(renderedErrors(failed)).toBe('Errors Hide Fetch error Bad Gateway /openapi/catalog.json');
  expect(renderedErrors('<h4>Failed to load API definition.</h4>')).toBe(
    'Failed to load API definition',
  );
});
