// The companies service over HTTP on port 0, against the real FerretDB and RabbitMQ of
// the test environment: the public directory and what it hides, company administration,
// companies the operator manages, memberships, validation, and who may do what.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  client,
  expectOpenApiUpToDate,
  forgedTokens,
  startTestService,
  TestTenant,
  type Answer,
  type Call,
} from '@gorten/service-testing';
import {
  newId,
  operatorCompanyRecord,
  type CompanyMemberRecord,
  type CompanyRecord,
  type RunningService,
} from '@gorten/kit';
import { companiesService } from '../src/app.js';
import type { CompaniesDeps } from '../src/deps.js';

let tenant: TestTenant;
let service: RunningService<CompaniesDeps>;
let call: Call;

beforeAll(async () => {
  tenant = await TestTenant.create('companies');
  service = await startTestService(companiesService, tenant, 'companies');
  call = client(service.url);
});

afterAll(async () => {
  await service.close();
  await tenant.destroy();
});

interface CompanyBody {
  id: string;
  displayName: string;
  description: string | null;
  createdAt: string | null;
  contactEmail?: string;
  status?: string;
  managedBy?: string;
  updatedAt?: string | null;
}

interface MemberBody {
  userId: string;
  addedAt: string;
  addedBy: string;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const PUBLIC_FIELDS = ['createdAt', 'description', 'displayName', 'id'];
const ADMIN_ID = newId('usr');

const companies = () => tenant.db.collection<CompanyRecord>('companies');
const members = () => tenant.db.collection<CompanyMemberRecord>('company_members');
const users = () =>
  tenant.db.collection<{
    _id: string;
    email: string;
    name: string;
    roles: string[];
    status: string;
  }>('users');

const admin = () => tenant.token({ sub: ADMIN_ID, roles: ['admin'] });
const buyer = () => tenant.token({ sub: newId('usr'), roles: ['buyer'] });
const sellerOf = (companyId: string) =>
  tenant.token({ sub: newId('usr'), roles: ['seller'], company: companyId });
/** A company id that exists nowhere, for "another company". */
const elsewhere = () => newId('co');

/** A word no other test's company names contain. */
const marker = () => `m${randomUUID().slice(0, 8)}`;

async function apiCompany(fields: Record<string, unknown> = {}): Promise<string> {
  const answer = await call<CompanyBody>('POST', '/companies', {
    token: admin(),
    body: { displayName: `Company ${marker()}`, contactEmail: 'sales@example.com', ...fields },
  });
  expect(answer.status).toBe(201);
  return answer.body.id;
}

async function suspended(): Promise<string> {
  const id = await apiCompany();
  const answer = await call('PATCH', `/companies/${id}`, {
    token: admin(),
    body: { status: 'suspended' },
  });
  expect(answer.status).toBe(200);
  return id;
}

async function removed(): Promise<string> {
  const id = await apiCompany();
  expect((await call('DELETE', `/companies/${id}`, { token: admin() })).status).toBe(204);
  return id;
}

/** A company as the operator records a Company resource (its id has 32 hex digits). */
async function operatorCompany(status: 'active' | 'suspended' = 'active'): Promise<string> {
  const id = `co_${randomUUID().replaceAll('-', '')}`;
  await companies().insertOne(
    operatorCompanyRecord({
      id,
      displayName: `Operated ${marker()}`,
      contactEmail: 'ops@example.com',
      status,
      publicKey: '-----BEGIN PUBLIC KEY-----',
    }),
  );
  return id;
}

/** A user as the users service stores one. */
async function user(
  roles: string[] = ['seller'],
  status: 'active' | 'disabled' = 'active',
): Promise<string> {
  const id = newId('usr');
  await users().insertOne({ _id: id, email: `${id}@example.com`, name: 'Sam', roles, status });
  return id;
}

async function addMember(companyId: string, userId: string) {
  return call<MemberBody>('PUT', `/companies/${companyId}/members/${userId}`, { token: admin() });
}

describe('creating companies', () => {
  test('an admin creates an active company the API manages', async () => {
    const answer = await call<CompanyBody>('POST', '/companies', {
      token: admin(),
      body: {
        displayName: '  Acme Tools ',
        contactEmail: 'sales@acme.example',
        description: 'Hammers.',
      },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      displayName: 'Acme Tools',
      contactEmail: 'sales@acme.example',
      description: 'Hammers.',
      status: 'active',
      managedBy: 'api',
    });
    expect(answer.body.id).toMatch(/^co_[0-9a-f]{24}$/);
    expect(answer.headers.get('location')).toBe(`/companies/${answer.body.id}`);
    expect(answer.body.createdAt).toBe(answer.body.updatedAt);
    const stored = await companies().findOne({ _id: answer.body.id });
    expect(stored).toMatchObject({ managedBy: 'api', status: 'active', credential: null });
    expect(stored?.createdAt).toBeInstanceOf(Date);
  });

  test('the description is optional', async () => {
    const answer = await call<CompanyBody>('POST', '/companies', {
      token: admin(),
      body: { displayName: 'Plain', contactEmail: 'plain@example.com' },
    });
    expect(answer.status).toBe(201);
    expect(answer.body.description).toBeNull();
  });

  test.each([
    ['an unknown field (mass assignment)', { managedBy: 'gorten-operator' }],
    ['a status', { status: 'suspended' }],
    ['a wrong type', { displayName: 42 }],
    ['an empty name', { displayName: '   ' }],
    ['a malformed email', { contactEmail: 'not-an-email' }],
    ['an operator instead of a name', { displayName: { $gt: '' } }],
    ['an operator in the description', { description: { $ne: null } }],
  ])('refuses %s with a 400 and stores nothing', async (_why, override) => {
    const before = await companies().countDocuments({});
    const answer = await call('POST', '/companies', {
      token: admin(),
      body: { displayName: 'Mal', contactEmail: 'mal@example.com', ...override },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
    expect(answer.body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(await companies().countDocuments({})).toBe(before);
  });

  test('refuses malformed JSON and a missing body', async () => {
    expect((await call('POST', '/companies', { token: admin(), rawBody: '{"x":' })).status).toBe(
      400,
    );
    expect((await call('POST', '/companies', { token: admin() })).status).toBe(400);
  });
});

describe('reading companies', () => {
  test('anyone reads an active company’s public fields; admins and its sellers the record', async () => {
    const id = await apiCompany({ description: 'Open for business' });
    for (const token of [undefined, buyer(), sellerOf(elsewhere())]) {
      const answer = await call<CompanyBody>('GET', `/companies/${id}`, { token });
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.body).sort()).toEqual(PUBLIC_FIELDS);
      expect(answer.body).toMatchObject({ id, description: 'Open for business' });
    }
    for (const token of [admin(), sellerOf(id)]) {
      const answer = await call<CompanyBody>('GET', `/companies/${id}`, { token });
      expect(answer.body).toMatchObject({
        id,
        contactEmail: 'sales@example.com',
        status: 'active',
        managedBy: 'api',
      });
    }
  });

  test('suspended and removed companies do not exist for the public', async () => {
    const hidden = await suspended();
    const gone = await removed();
    for (const id of [hidden, gone]) {
      for (const token of [undefined, buyer(), sellerOf(elsewhere())]) {
        const answer = await call('GET', `/companies/${id}`, { token });
        expect(answer.status).toBe(404);
        expect(JSON.stringify(answer.body)).not.toMatch(/suspended|removed/);
      }
    }
    // Admins see a suspended company; a removed one is gone for them too.
    expect((await call('GET', `/companies/${hidden}`, { token: admin() })).status).toBe(200);
    expect((await call('GET', `/companies/${gone}`, { token: admin() })).status).toBe(404);
    // Its own sellers still see a suspended company (and why), but not a removed one.
    const own = await call<CompanyBody>('GET', `/companies/${hidden}`, {
      token: sellerOf(hidden),
    });
    expect(own.body.status).toBe('suspended');
    expect((await call('GET', `/companies/${gone}`, { token: sellerOf(gone) })).status).toBe(404);
  });

  test('an unknown id is 404; a malformed one 400', async () => {
    expect((await call('GET', `/companies/${elsewhere()}`)).status).toBe(404);
    expect((await call('GET', `/companies/co_${'0'.repeat(33)}`)).status).toBe(400);
    expect((await call('GET', '/companies/usr_0123')).status).toBe(400);
  });

  test('the public list holds active companies only, with public fields only', async () => {
    const tag = marker();
    const active = await apiCompany({ displayName: `Shown ${tag}` });
    await call('PATCH', `/companies/${await apiCompany({ displayName: `Hidden ${tag}` })}`, {
      token: admin(),
      body: { status: 'suspended' },
    });
    await call('DELETE', `/companies/${await apiCompany({ displayName: `Gone ${tag}` })}`, {
      token: admin(),
    });
    for (const token of [undefined, buyer(), sellerOf(active)]) {
      const answer = await call<Page<CompanyBody>>('GET', `/companies?q=${tag}`, { token });
      expect(answer.status).toBe(200);
      expect(answer.body.items.map((c) => c.id)).toEqual([active]);
      expect(Object.keys(answer.body.items[0]!).sort()).toEqual(PUBLIC_FIELDS);
    }
    expect((await call('GET', `/companies?q=${tag}&status=active`)).status).toBe(200);
    expect((await call('GET', `/companies?q=${tag}&status=suspended`)).status).toBe(403);
    expect(
      (await call('GET', `/companies?status=removed`, { token: sellerOf(active) })).status,
    ).toBe(403);
  });

  test('admins list every company in full and filter by status', async () => {
    const tag = marker();
    const active = await apiCompany({ displayName: `Shown ${tag}` });
    const hidden = await suspended();
    await call('PATCH', `/companies/${hidden}`, {
      token: admin(),
      body: { displayName: `Hidden ${tag}` },
    });
    const all = await call<Page<CompanyBody>>('GET', `/companies?q=${tag}`, { token: admin() });
    expect(all.body.items.map((c) => [c.id, c.status])).toEqual([
      [active, 'active'],
      [hidden, 'suspended'],
    ]);
    expect(all.body.items[0]).toMatchObject({
      contactEmail: 'sales@example.com',
      managedBy: 'api',
    });
    const onlySuspended = await call<Page<CompanyBody>>(
      'GET',
      `/companies?q=${tag}&status=suspended`,
      { token: admin() },
    );
    expect(onlySuspended.body.items.map((c) => c.id)).toEqual([hidden]);
  });

  test('q is a case-insensitive substring of the name, never a pattern', async () => {
    const tag = marker();
    const id = await apiCompany({ displayName: `Ace (Tools) [${tag}]*` });
    const find = async (q: string) =>
      (
        await call<Page<CompanyBody>>('GET', `/companies?q=${encodeURIComponent(q)}`)
      ).body.items.map((c) => c.id);
    expect(await find(`(TOOLS) [${tag.toUpperCase()}]*`)).toEqual([id]);
    expect(await find(`${tag}.*`)).toEqual([]);
    expect(await find(`ace.*${tag}`)).toEqual([]);
  });

  test('pages through every company once, for the public and for admins', async () => {
    const tag = marker();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await apiCompany({ displayName: `Paged ${tag} ${i}` }));
    await call('PATCH', `/companies/${ids[2]!}`, {
      token: admin(),
      body: { status: 'suspended' },
    });
    const collect = async (token?: string): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = '';
      for (let pages = 0; cursor !== null; pages++) {
        expect(pages).toBeLessThan(5);
        const answer: Answer<Page<CompanyBody>> = await call(
          'GET',
          `/companies?q=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          { token },
        );
        expect(answer.status).toBe(200);
        expect(answer.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...answer.body.items.map((c) => c.id));
        cursor = answer.body.nextCursor;
      }
      return seen;
    };
    const forAdmins = await collect(admin());
    expect(forAdmins).toEqual([...ids].sort());
    const forThePublic = await collect();
    expect(new Set(forThePublic).size).toBe(forThePublic.length);
    expect(forThePublic).toEqual(ids.filter((id) => id !== ids[2]).sort());
  });

  test.each([
    ['an operator in the query', '?q[$ne]=x'],
    ['an operator on status', '?status[$ne]=active'],
    ['an unknown parameter', '?sort=displayName'],
    ['a zero limit', '?limit=0'],
    ['a limit that is not a number', '?limit=many'],
    ['an unknown status', '?status=deleted'],
    ['a repeated q', '?q=a&q=b'],
  ])('refuses %s with a 400', async (_why, query) => {
    const answer = await call('GET', `/companies${query}`, { token: admin() });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });

  test('refuses a cursor this API did not issue with a 422: its pattern matches, so the schema cannot tell', async () => {
    const answer = await call('GET', '/companies?cursor=bm9wZQ', { token: admin() });
    expect(answer.status).toBe(422);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('changing companies', () => {
  test('an admin changes name, contact, description and status', async () => {
    const id = await apiCompany();
    const before = await companies().findOne({ _id: id });
    const answer = await call<CompanyBody>('PATCH', `/companies/${id}`, {
      token: admin(),
      body: {
        displayName: 'Renamed',
        contactEmail: 'new@example.com',
        description: 'Now with nails.',
        status: 'suspended',
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id,
      displayName: 'Renamed',
      contactEmail: 'new@example.com',
      description: 'Now with nails.',
      status: 'suspended',
    });
    const after = await companies().findOne({ _id: id });
    expect(after?.updatedAt?.getTime()).toBeGreaterThanOrEqual(before!.updatedAt!.getTime());
    expect(after?.createdAt).toEqual(before?.createdAt);
    expect((await call('GET', `/companies/${id}`)).status).toBe(404);
    const reactivated = await call('PATCH', `/companies/${id}`, {
      token: admin(),
      body: { status: 'active' },
    });
    expect(reactivated.body).toMatchObject({ status: 'active' });
    expect((await call('GET', `/companies/${id}`)).status).toBe(200);
  });

  test('a null description clears it', async () => {
    const id = await apiCompany({ description: 'Soon gone' });
    const answer = await call<CompanyBody>('PATCH', `/companies/${id}`, {
      token: admin(),
      body: { description: null },
    });
    expect(answer.body.description).toBeNull();
    expect(await companies().findOne({ _id: id })).not.toHaveProperty('description');
  });

  test('a seller of the company changes its description and contact, nothing else', async () => {
    const id = await apiCompany({ displayName: 'Original' });
    const seller = sellerOf(id);
    const answer = await call<CompanyBody>('PATCH', `/companies/${id}`, {
      token: seller,
      body: { description: 'Ours.', contactEmail: 'us@example.com' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ description: 'Ours.', contactEmail: 'us@example.com' });
    for (const body of [
      { displayName: 'Hijacked' },
      { status: 'suspended' },
      { description: 'ok', status: 'active' },
    ]) {
      const refused = await call('PATCH', `/companies/${id}`, { token: seller, body });
      expect(refused.status).toBe(403);
    }
    expect(await companies().findOne({ _id: id })).toMatchObject({
      displayName: 'Original',
      status: 'active',
      description: 'Ours.',
    });
  });

  test('a seller cannot change a suspended company; nobody a removed one', async () => {
    const hidden = await suspended();
    const answer = await call('PATCH', `/companies/${hidden}`, {
      token: sellerOf(hidden),
      body: { description: 'Let us back in' },
    });
    expect(answer.status).toBe(409);
    const gone = await removed();
    expect(
      (await call('PATCH', `/companies/${gone}`, { token: admin(), body: { status: 'active' } }))
        .status,
    ).toBe(409);
    expect(
      (
        await call('PATCH', `/companies/${gone}`, {
          token: sellerOf(gone),
          body: { description: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(await companies().findOne({ _id: gone })).toMatchObject({ status: 'removed' });
  });

  test('an unknown company is 404', async () => {
    const id = elsewhere();
    const body = { description: 'x' };
    expect((await call('PATCH', `/companies/${id}`, { token: admin(), body })).status).toBe(404);
    expect((await call('PATCH', `/companies/${id}`, { token: sellerOf(id), body })).status).toBe(
      404,
    );
  });

  test.each([
    ['an empty change', {}],
    ['an unknown field', { managedBy: 'api' }],
    ['a credential (mass assignment)', { credential: null }],
    ['status removed (that is DELETE)', { status: 'removed' }],
    ['a wrong type', { contactEmail: 7 }],
    ['an operator', { description: { $gt: '' } }],
  ])('refuses %s with a 400 and changes nothing', async (_why, body) => {
    const id = await apiCompany();
    const before = await companies().findOne({ _id: id });
    const answer = await call('PATCH', `/companies/${id}`, { token: admin(), body });
    expect(answer.status).toBe(400);
    expect(await companies().findOne({ _id: id })).toEqual(before);
  });
});

describe('companies the operator manages', () => {
  test('are read like any other, without timestamps', async () => {
    const id = await operatorCompany();
    const answer = await call<CompanyBody>('GET', `/companies/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id,
      displayName: expect.stringMatching(/^Operated /) as unknown,
      description: null,
      createdAt: null,
    });
    const full = await call<CompanyBody>('GET', `/companies/${id}`, { token: admin() });
    expect(full.body).toMatchObject({ managedBy: 'gorten-operator', updatedAt: null });
  });

  test('refuse changes other than the description with a 409 pointing to kubectl', async () => {
    const id = await operatorCompany();
    const before = await companies().findOne({ _id: id });
    for (const body of [
      { displayName: 'Renamed' },
      { status: 'suspended' },
      { contactEmail: 'x@example.com' },
      { displayName: 'Renamed', description: 'both' },
    ]) {
      const answer = await call('PATCH', `/companies/${id}`, { token: admin(), body });
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ detail: expect.stringMatching(/kubectl/) as unknown });
    }
    const bySeller = await call('PATCH', `/companies/${id}`, {
      token: sellerOf(id),
      body: { contactEmail: 'x@example.com' },
    });
    expect(bySeller.status).toBe(409);
    expect(await companies().findOne({ _id: id })).toEqual(before);
  });

  test('accept a description from an admin or their seller', async () => {
    const id = await operatorCompany();
    const answer = await call<CompanyBody>('PATCH', `/companies/${id}`, {
      token: admin(),
      body: { description: 'Run by the platform team.' },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ description: 'Run by the platform team.' });
    const bySeller = await call('PATCH', `/companies/${id}`, {
      token: sellerOf(id),
      body: { description: 'Our words.' },
    });
    expect(bySeller.status).toBe(200);
    expect(await companies().findOne({ _id: id })).toMatchObject({
      description: 'Our words.',
      managedBy: 'gorten-operator',
      status: 'active',
    });
  });

  test('refuse removal with a 409 and keep their members', async () => {
    const id = await operatorCompany();
    const sam = await user();
    expect((await addMember(id, sam)).status).toBe(201);
    const answer = await call('DELETE', `/companies/${id}`, { token: admin() });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ detail: expect.stringMatching(/kubectl/) as unknown });
    expect(await companies().findOne({ _id: id })).toMatchObject({ status: 'active' });
    expect(await members().countDocuments({ companyId: id })).toBe(1);
  });
});

describe('removing companies', () => {
  test('marks it removed, keeps the record, ends its memberships; reads of it are 404 for everyone', async () => {
    const id = await apiCompany();
    const [ann, bob] = [await user(), await user()];
    await addMember(id, ann);
    await addMember(id, bob);
    const other = await apiCompany();
    await addMember(other, ann);
    expect((await call('DELETE', `/companies/${id}`, { token: admin() })).status).toBe(204);
    expect(await companies().findOne({ _id: id })).toMatchObject({ status: 'removed' });
    expect(await members().countDocuments({ companyId: id })).toBe(0);
    expect(await members().countDocuments({ companyId: other })).toBe(1);
    // Gone after DELETE (RFC 9110 §9.3.5), for admins too; they still list it by status.
    for (const token of [undefined, admin()]) {
      expect((await call('GET', `/companies/${id}`, { token })).status).toBe(404);
      expect(
        (await call('GET', `/companies/${id}/members`, { token: token ?? admin() })).status,
      ).toBe(404);
    }
    const listed = await call<Page<CompanyBody>>('GET', '/companies?status=removed&limit=100', {
      token: admin(),
    });
    expect(listed.body.items.find((c) => c.id === id)).toMatchObject({ status: 'removed' });
    // Again: nothing more to do.
    expect((await call('DELETE', `/companies/${id}`, { token: admin() })).status).toBe(204);
  });

  test('an unknown company is 404', async () => {
    expect((await call('DELETE', `/companies/${elsewhere()}`, { token: admin() })).status).toBe(
      404,
    );
  });
});

describe('members', () => {
  test('an admin adds an active seller once; adding again changes nothing', async () => {
    const id = await apiCompany();
    const sam = await user(['buyer', 'seller']);
    const first = await addMember(id, sam);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ userId: sam, addedBy: ADMIN_ID });
    expect(first.headers.get('location')).toBe(`/companies/${id}/members/${sam}`);
    const again = await addMember(id, sam);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // The document the users service reads at sign-in.
    expect(await members().find({ userId: sam }).toArray()).toEqual([
      {
        _id: `${id}:${sam}`,
        companyId: id,
        userId: sam,
        addedAt: new Date(first.body.addedAt),
        addedBy: ADMIN_ID,
      },
    ]);
  });

  test.each([
    ['an unknown user', () => Promise.resolve(newId('usr'))],
    ['a buyer', () => user(['buyer'])],
    ['an admin who is no seller', () => user(['admin'])],
    ['a disabled seller', () => user(['seller'], 'disabled')],
  ])('refuses %s with a 422', async (_why, who) => {
    const id = await apiCompany();
    const answer = await addMember(id, await who());
    expect(answer.status).toBe(422);
    expect(await members().countDocuments({ companyId: id })).toBe(0);
  });

  test('only active companies take members', async () => {
    const sam = await user();
    for (const id of [await suspended(), await removed(), await operatorCompany('suspended')]) {
      expect((await addMember(id, sam)).status).toBe(409);
      expect(await members().countDocuments({ companyId: id })).toBe(0);
    }
    expect((await addMember(elsewhere(), sam)).status).toBe(404);
  });

  test('admins and the company’s sellers list its members, page by page', async () => {
    const id = await apiCompany();
    const ids = [await user(), await user(), await user()];
    for (const u of ids) await addMember(id, u);
    const first = await call<Page<MemberBody>>('GET', `/companies/${id}/members?limit=2`, {
      token: admin(),
    });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    const second = await call<Page<MemberBody>>(
      'GET',
      `/companies/${id}/members?limit=2&cursor=${first.body.nextCursor!}`,
      { token: sellerOf(id) },
    );
    expect(second.body).toMatchObject({ nextCursor: null });
    expect([...first.body.items, ...second.body.items].map((m) => m.userId)).toEqual(
      [...ids].sort(),
    );
    expect(
      (await call('GET', `/companies/${id}/members`, { token: sellerOf(elsewhere()) })).status,
    ).toBe(403);
    expect((await call('GET', `/companies/${id}/members`, { token: buyer() })).status).toBe(403);
    expect((await call('GET', `/companies/${id}/members`)).status).toBe(401);
    expect(
      (await call('GET', `/companies/${elsewhere()}/members`, { token: admin() })).status,
    ).toBe(404);
  });

  test('an admin removes a member; a second time it is 404', async () => {
    const id = await apiCompany();
    const sam = await user();
    await addMember(id, sam);
    const path = `/companies/${id}/members/${sam}`;
    expect((await call('DELETE', path, { token: admin() })).status).toBe(204);
    expect(await members().countDocuments({ companyId: id })).toBe(0);
    expect((await call('DELETE', path, { token: admin() })).status).toBe(404);
  });

  test('malformed ids are 400', async () => {
    const id = await apiCompany();
    expect((await call('PUT', `/companies/${id}/members/nobody`, { token: admin() })).status).toBe(
      400,
    );
    expect(
      (await call('PUT', `/companies/${id}/members/${newId('usr')}x`, { token: admin() })).status,
    ).toBe(400);
  });
});

describe('who may do what', () => {
  type Write = (fixture: { company: string; member: string; candidate: string }) => {
    method: string;
    path: string;
    body?: unknown;
  };
  // Each write, and what the company's own seller and an admin get.
  const writes: [string, number, number, Write][] = [
    [
      'POST /companies',
      403,
      201,
      () => ({
        method: 'POST',
        path: '/companies',
        body: { displayName: 'Matrix', contactEmail: 'matrix@example.com' },
      }),
    ],
    [
      'PATCH /companies/:id',
      200,
      200,
      ({ company }) => ({
        method: 'PATCH',
        path: `/companies/${company}`,
        body: { description: 'changed' },
      }),
    ],
    [
      'DELETE /companies/:id',
      403,
      204,
      ({ company }) => ({ method: 'DELETE', path: `/companies/${company}` }),
    ],
    [
      'PUT /companies/:id/members/:userId',
      403,
      201,
      ({ company, candidate }) => ({
        method: 'PUT',
        path: `/companies/${company}/members/${candidate}`,
      }),
    ],
    [
      'DELETE /companies/:id/members/:userId',
      403,
      204,
      ({ company, member }) => ({
        method: 'DELETE',
        path: `/companies/${company}/members/${member}`,
      }),
    ],
  ];

  test.each(writes)(
    '%s: anonymous 401, buyer 403, seller of another company 403, its seller %d, admin %d',
    async (_what, ownSeller, asAdmin, write) => {
      const company = await apiCompany();
      const [member, candidate] = [await user(), await user()];
      await addMember(company, member);
      const { method, path, body } = write({ company, member, candidate });
      const snapshot = async () => ({
        company: await companies().findOne({ _id: company }),
        members: await members().find({ companyId: company }).toArray(),
        count: await companies().countDocuments({}),
      });
      const before = await snapshot();
      for (const [token, status] of [
        [undefined, 401],
        [buyer(), 403],
        [sellerOf(elsewhere()), 403],
      ] as const) {
        const answer = await call(method, path, { token, body });
        expect({ token, status: answer.status }).toEqual({ token, status });
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
      }
      expect(await snapshot()).toEqual(before);
      expect((await call(method, path, { token: sellerOf(company), body })).status).toBe(ownSeller);
      expect((await call(method, path, { token: admin(), body })).status).toBe(asAdmin);
    },
  );

  test.each([
    'GET /companies',
    'POST /companies',
    'GET /companies/:id',
    'PATCH /companies/:id',
    'DELETE /companies/:id',
    'GET /companies/:id/members',
    'PUT /companies/:id/members/:userId',
    'DELETE /companies/:id/members/:userId',
  ])('%s refuses every forged or foreign token', async (what) => {
    const company = await apiCompany();
    const [method, template] = what.split(' ') as [string, string];
    const path = template.replace(':id', company).replace(':userId', newId('usr'));
    const body =
      method === 'POST'
        ? { displayName: 'Forged', contactEmail: 'f@example.com' }
        : method === 'PATCH'
          ? { status: 'suspended' }
          : undefined;
    const before = await companies().countDocuments({});
    for (const forged of forgedTokens(tenant, { sub: ADMIN_ID, roles: ['admin'] })) {
      const answer = await call(method, path, { token: forged.token, body });
      expect({ why: forged.why, status: answer.status }).toEqual({ why: forged.why, status: 401 });
    }
    expect(await companies().countDocuments({})).toBe(before);
    expect(await companies().findOne({ _id: company })).toMatchObject({ status: 'active' });
  });
});

describe('the service', () => {
  test('serves its OpenAPI document, and the checked-in copy is up to date', async () => {
    await expectOpenApiUpToDate(companiesService, join(import.meta.dirname, '..'), call);
  });
});
