// Routes as data: the OpenAPI document generated from them, and the router's access
// checks and response contract, over real HTTP on port 0 (no database needed).
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import {
  afterCursor,
  apiRouter,
  atLeastOneField,
  conflict,
  createLogger,
  createServiceApp,
  emailAddress,
  notFound,
  openApiDocument,
  pageQuery,
  routeFor,
  serve,
  ServiceMetrics,
  trimmedText,
  type RunningServer,
} from '../src/index.js';

interface Deps {
  greeting: string;
}
const route = routeFor<Deps>();

const ROUTES = [
  route({
    method: 'get',
    path: '/things/:id',
    operationId: 'getThing',
    summary: 'One thing',
    tags: ['things'],
    access: 'optional',
    params: z.strictObject({ id: z.string().regex(/^t\d+$/) }),
    query: z.strictObject({ verbose: z.enum(['yes', 'no']).optional().describe('Say more.') }),
    responses: {
      200: { description: 'The thing.', schema: z.object({ id: z.string(), by: z.string() }) },
    },
    errors: { 404: 'No such thing.' },
    handle: ({ params, principal }, deps) => {
      // t404 is a documented refusal; t409 one the route never declared.
      if (params.id === 't404') throw notFound('No such thing.');
      if (params.id === 't409') throw conflict('Undeclared.');
      return Promise.resolve({
        status: 200,
        body: { id: params.id, by: principal?.userId ?? deps.greeting },
      });
    },
  }),
  route({
    method: 'post',
    path: '/things',
    operationId: 'createThing',
    summary: 'Create a thing',
    tags: ['things'],
    access: ['admin'],
    body: z.strictObject({ name: z.string().min(1) }),
    responses: { 201: { description: 'Made.', schema: z.object({ name: z.string() }) } },
    // Breaks its own contract when asked to: the router must notice.
    handle: ({ body }) =>
      Promise.resolve(
        body.name === 'liar' ? { status: 201, body: { name: 42 } } : { status: 201, body },
      ),
  }),
  route({
    method: 'patch',
    path: '/things/:id',
    operationId: 'changeThing',
    summary: 'Change a thing',
    tags: ['things'],
    access: 'public',
    params: z.strictObject({ id: z.string() }),
    body: atLeastOneField(
      z.strictObject({ name: z.string().optional(), colour: z.string().optional() }),
      'name or colour is required',
    ),
    responses: { 200: { description: 'Changed.', schema: z.object({ id: z.string() }) } },
    handle: ({ params }) => Promise.resolve({ status: 200, body: { id: params.id } }),
  }),
  route({
    method: 'get',
    path: '/things/:id/cached',
    operationId: 'getCachedThing',
    summary: 'One thing, as a cache holds it: serialized',
    tags: ['things'],
    access: 'public',
    params: z.strictObject({ id: z.string() }),
    responses: {
      200: { description: 'The thing.', schema: z.object({ id: z.string(), by: z.string() }) },
    },
    handle: ({ params }) =>
      Promise.resolve({
        status: 200,
        json: params.id === 'liar' ? '{"id":42}' : JSON.stringify({ id: params.id, by: 'cache' }),
      }),
  }),
  route({
    method: 'get',
    path: '/things',
    operationId: 'listThings',
    summary: 'A page of things',
    tags: ['things'],
    access: 'public',
    query: z.strictObject(pageQuery),
    responses: { 200: { description: 'The page.', schema: z.object({ after: z.unknown() }) } },
    handle: ({ query }) =>
      Promise.resolve({ status: 200, body: { after: afterCursor('_id', 1, query.cursor) } }),
  }),
];

test('what the server refuses beyond types is published: a change names a field, a cursor is one it issued', () => {
  const doc = openApiDocument({ title: 'T', version: '1', description: 'd' }, ROUTES) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  const patch = doc.paths['/things/{id}']?.patch as {
    requestBody: { content: Record<string, { schema: unknown }> };
  };
  expect(patch.requestBody.content['application/json']?.schema).toMatchObject({
    minProperties: 1,
  });
  expect(doc.paths['/things']?.get?.responses).toMatchObject({
    422: { description: 'The cursor is not one this API issued.' },
  });
});

test('trimmed text publishes its limits on what is sent, and that it must not be blank', () => {
  const name = trimmedText(5);
  const published = z.toJSONSchema(name, { io: 'input' }) as { maxLength: number; pattern: string };
  expect(published).toMatchObject({ type: 'string', maxLength: 5 });
  // The published pattern and JavaScript's trim agree on every character of the BMP.
  const notBlank = new RegExp(published.pattern);
  for (let code = 0; code <= 0xffff; code++) {
    const char = String.fromCharCode(code);
    if (notBlank.test(char) !== (char.trim() !== '')) throw new Error(`U+${code.toString(16)}`);
  }
  for (const blank of ['', ' ', '\f', '\u00a0', '\ufeff', ' \t\n '])
    expect({ blank, ok: name.safeParse(blank).success }).toEqual({ blank, ok: false });
  expect(name.parse(' ab ')).toBe('ab');
  expect(name.safeParse('  ab  ').success).toBe(false); // 6 characters sent
  expect(trimmedText(5, 'allowed').parse('   ')).toBe('');
});

test('an email address keeps to the limits of RFC 5321, as validators of format: email do', () => {
  const email = emailAddress();
  for (const ok of ['ann@example.com', `${'a'.repeat(64)}@b.co`, "o'neil+shop@mail.example.org"])
    expect({ ok, valid: email.safeParse(ok).success }).toEqual({ ok, valid: true });
  for (const bad of [
    `${'a'.repeat(65)}@b.co`, // a local part over 64 octets
    `a@${'b'.repeat(64)}.co`, // a domain label over 63
    'a@b-.co', // a label ending in a hyphen
    'a@-b.co',
    `${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(10)}.co`, // over 254
  ])
    expect({ bad, valid: email.safeParse(bad).success }).toEqual({ bad, valid: false });
  expect(z.toJSONSchema(email, { io: 'input' })).toMatchObject({ format: 'email', maxLength: 254 });
});

test('an OAuth 2 token endpoint is published as an oauth2 scheme whose tokenUrl is its path', () => {
  const tokenRoute = route({
    method: 'post',
    path: '/auth/token',
    operationId: 'issueToken',
    summary: 'Tokens',
    tags: ['auth'],
    access: 'public',
    oauth2Flows: ['password', 'clientCredentials'],
    responses: { 200: { description: 'The tokens.' } },
    handle: () => Promise.resolve({ status: 200 }),
  });
  const withEndpoint = openApiDocument({ title: 'T', version: '1', description: 'd' }, [
    tokenRoute,
  ]) as { components: { securitySchemes: Record<string, unknown> } };
  expect(withEndpoint.components.securitySchemes.oauth2).toEqual({
    type: 'oauth2',
    description: expect.any(String) as unknown,
    flows: {
      password: { tokenUrl: '/auth/token', refreshUrl: '/auth/token', scopes: {} },
      clientCredentials: { tokenUrl: '/auth/token', scopes: {} },
    },
  });
  const without = openApiDocument({ title: 'T', version: '1', description: 'd' }, ROUTES) as {
    components: { securitySchemes: Record<string, unknown> };
  };
  expect(Object.keys(without.components.securitySchemes)).toEqual(['bearerAuth']);
});

test('the OpenAPI document describes paths, parameters, bodies, security and errors', () => {
  const doc = openApiDocument({ title: 'T', version: '1', description: 'd' }, ROUTES) as {
    openapi: string;
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  expect(doc.openapi).toBe('3.1.1');
  const get = doc.paths['/things/{id}']?.get;
  expect(get).toMatchObject({
    operationId: 'getThing',
    security: [{}, { bearerAuth: [] }],
    parameters: [
      { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^t\\d+$' } },
      { name: 'verbose', in: 'query', required: false, description: 'Say more.' },
    ],
  });
  expect(Object.keys(get?.responses as object).sort()).toEqual([
    '200',
    '400',
    '401',
    '404',
    '500',
    '503',
  ]);
  const post = doc.paths['/things']?.post;
  expect(post).toMatchObject({
    security: [{ bearerAuth: [] }],
    'x-required-roles': ['admin'],
    requestBody: {
      content: {
        'application/json': {
          schema: { type: 'object', required: ['name'], additionalProperties: false },
        },
      },
    },
    responses: {
      403: {
        content: {
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      },
      413: { description: 'The body is too large.' },
    },
  });
});

describe('the router', () => {
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const auth = { publicKey: keys.publicKey, issuer: 'iss', audience: 'aud' };
  const token = (roles: string[]) =>
    jwt.sign({ sub: 'usr_1', roles }, keys.privateKey, {
      algorithm: 'RS256',
      issuer: 'iss',
      audience: 'aud',
      expiresIn: 60,
    });
  let server: RunningServer;
  let base: string;

  beforeAll(async () => {
    const log = createLogger('test', 'silent');
    const app = createServiceApp({
      log,
      metrics: new ServiceMetrics('test'),
      corsOrigins: [],
      bodyLimitKb: 16,
      readiness: {},
      routers: [apiRouter(ROUTES, { greeting: 'anonymous' }, { auth, checkResponses: true })],
    });
    server = await serve(app, { port: 0, log, shutdownTimeoutMs: 1_000 });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  const post = (body: unknown, bearer?: string) =>
    fetch(`${base}/things`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify(body),
    });

  test('optional access: anonymous passes, a valid token is read, a bad one refused', async () => {
    expect(await (await fetch(`${base}/things/t1`)).json()).toEqual({ id: 't1', by: 'anonymous' });
    const signedIn = await fetch(`${base}/things/t1`, {
      headers: { authorization: `Bearer ${token(['buyer'])}` },
    });
    expect(await signedIn.json()).toEqual({ id: 't1', by: 'usr_1' });
    const bad = await fetch(`${base}/things/t1`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect((await fetch(`${base}/things/x1`)).status).toBe(400);
  });

  test('role access: 401 without a token, 403 without the role, then validation', async () => {
    expect((await post({ name: 'a' })).status).toBe(401);
    expect((await post({ name: 'a' }, token(['buyer']))).status).toBe(403);
    expect((await post({ name: '' }, token(['admin']))).status).toBe(400);
    expect((await post({ name: 'a' }, token(['admin']))).status).toBe(201);
  });

  test('an empty change is a 400 (it breaks minProperties); a cursor not issued here is a 422', async () => {
    const empty = await fetch(`${base}/things/t1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({
      errors: [{ in: 'body', message: 'name or colour is required' }],
    });
    const foreign = await fetch(`${base}/things?cursor=abc`);
    expect(foreign.status).toBe(422);
    expect(await foreign.json()).toMatchObject({
      status: 422,
      detail: 'The cursor is not one this API issued.',
    });
  });

  test('a refusal the route does not document is a 500 too, so its document stays complete', async () => {
    expect((await fetch(`${base}/things/t404`)).status).toBe(404);
    const undeclared = await fetch(`${base}/things/t409`);
    expect(undeclared.status).toBe(500);
  });

  test('an answer already serialized is sent as it is, as JSON, and checked like any other', async () => {
    const cached = await fetch(`${base}/things/t1/cached`);
    expect(cached.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await cached.text()).toBe('{"id":"t1","by":"cache"}');
    expect((await fetch(`${base}/things/liar/cached`)).status).toBe(500);
  });

  test('an answer that breaks its declared schema is a 500, never sent as is', async () => {
    const answer = await post({ name: 'liar' }, token(['admin']));
    expect(answer.status).toBe(500);
    expect(await answer.text()).not.toContain('42');
  });
});
