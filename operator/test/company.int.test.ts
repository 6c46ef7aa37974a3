// Company resources against real servers: registration in the tenant database and an API
// credential on Kong that is issued, withdrawn while suspended, and revoked on deletion.
import { randomBytes, sign, verify } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { eventually } from '@gorten/testenv';
import type { Company } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import type { CompanyCondition } from '../src/company/reconcile.js';
import { findCondition, type Condition } from '../src/runtime/conditions.js';
import { env, secretValue, SHARD_LABEL, tenantUnderTest, waitForEvent } from './support.js';

const SHARD = 'company';
const admin = new MongoClient(env.mongo.url);
const mp = `co-${randomBytes(2).toString('hex')}`;
const ns = `mp-${mp}`;
const { kube } = tenantUnderTest(SHARD, mp);

const COMPANY = { apiVersion: 'gorten.io/v1alpha1', kind: 'Company' } as const;

function company(name: string, namespace: string, spec: Partial<Company['spec']> = {}): Company {
  return {
    ...COMPANY,
    metadata: { name, namespace, labels: { [SHARD_LABEL]: SHARD } },
    spec: { displayName: `Seller ${name}`, contactEmail: `${name}@example.com`, ...spec },
  };
}

const readCompany = (name: string, namespace = ns) =>
  kube.get<Company>({ ...COMPANY, namespace, name });
const secret = (name: string) =>
  kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name });
const consumer = (name: string) =>
  kube.get<KubeObject & { credentials?: string[]; custom_id?: string }>({
    apiVersion: 'configuration.konghq.com/v1',
    kind: 'KongConsumer',
    namespace: ns,
    name,
  });

async function waitForCompany(
  name: string,
  type: CompanyCondition | 'Ready',
  status: Condition['status'],
  reason?: string,
  namespace = ns,
): Promise<Company> {
  return eventually({ what: `${name} ${type}=${status}`, timeoutMs: 60_000 }, async () => {
    const c = await readCompany(name, namespace);
    const cond = findCondition(c?.status?.conditions, type);
    return cond?.status === status &&
      (!reason || cond.reason === reason) &&
      c?.status?.observedGeneration === c?.metadata.generation
      ? c
      : undefined;
  });
}

afterAll(async () => {
  await admin.close();
});

describe('a Company in its marketplace namespace', () => {
  beforeAll(async () => {
    await kube.create(company('acme-tools', ns));
  });

  test('is registered in the tenant database and reports its id and credentials Secret', async () => {
    const ready = await waitForCompany('acme-tools', 'Ready', 'True');
    const id = `co_${(ready.metadata.uid ?? '').replaceAll('-', '')}`;
    expect(ready.status).toMatchObject({
      companyId: id,
      credentialsSecret: 'company-acme-tools-credentials',
    });
    const record = await admin.db(ns).collection<{ _id: string }>('companies').findOne({ _id: id });
    expect(record).toMatchObject({
      displayName: 'Seller acme-tools',
      contactEmail: 'acme-tools@example.com',
      status: 'active',
      // What the users service checks the company's client-credentials assertions with.
      credential: {
        keyId: id,
        algorithm: 'RS256',
        publicKey: secretValue(await secret('company-acme-tools-credentials'), 'public.pem'),
      },
    });
  });

  test('gets a Kong consumer in the tenant ACL group whose JWT credential verifies the company’s signatures', async () => {
    const c = await readCompany('acme-tools');
    const kongConsumer = await consumer('company-acme-tools');
    expect(kongConsumer).toMatchObject({
      credentials: ['company-acme-tools-jwt', 'company-acme-tools-acl'],
      custom_id: c?.status?.companyId,
    });
    const jwt = await secret('company-acme-tools-jwt');
    expect(secretValue(jwt, 'key')).toBe(c?.status?.companyId);
    expect(secretValue(await secret('company-acme-tools-acl'), 'group')).toBe(ns);
    const keys = await secret('company-acme-tools-credentials');
    const payload = Buffer.from(JSON.stringify({ iss: c?.status?.companyId, exp: 2_000_000_000 }));
    expect(
      verify(
        'sha256',
        payload,
        secretValue(jwt, 'rsa_public_key'),
        sign('sha256', payload, secretValue(keys, 'private.pem')),
      ),
    ).toBe(true);
  });

  test('a new display name reaches its record', async () => {
    await kube.mergePatch(
      { ...COMPANY, namespace: ns, name: 'acme-tools' },
      { spec: { displayName: 'ACME Tools Ltd' } },
    );
    const c = await waitForCompany('acme-tools', 'Ready', 'True');
    await eventually({ what: 'record renamed', timeoutMs: 30_000 }, async () => {
      const record = await admin
        .db(ns)
        .collection<{ _id: string; displayName?: string }>('companies')
        .findOne({ _id: c.status?.companyId ?? '' });
      return record?.displayName === 'ACME Tools Ltd' ? true : undefined;
    });
  });

  test('suspending withdraws the credential; resuming issues it again with the same key', async () => {
    const before = secretValue(await secret('company-acme-tools-credentials'), 'public.pem');
    await kube.mergePatch(
      { ...COMPANY, namespace: ns, name: 'acme-tools' },
      { spec: { suspended: true } },
    );
    const suspended = await waitForCompany('acme-tools', 'CredentialIssued', 'False', 'Suspended');
    expect((await consumer('company-acme-tools'))?.credentials ?? []).toEqual([]);
    expect(await secret('company-acme-tools-jwt')).toBeUndefined();
    expect(
      await admin
        .db(ns)
        .collection<{ _id: string }>('companies')
        .findOne({ _id: suspended.status?.companyId ?? '' }),
    ).toMatchObject({ status: 'suspended', credential: null });
    await kube.mergePatch(
      { ...COMPANY, namespace: ns, name: 'acme-tools' },
      { spec: { suspended: false } },
    );
    await waitForCompany('acme-tools', 'CredentialIssued', 'True', 'Issued');
    expect(secretValue(await secret('company-acme-tools-jwt'), 'rsa_public_key')).toBe(before);
  });

  test('deleting it revokes the credential and marks its record removed', async () => {
    const id = (await readCompany('acme-tools'))?.status?.companyId ?? '';
    await kube.delete({ ...COMPANY, namespace: ns, name: 'acme-tools' });
    await eventually({ what: 'credential revoked', timeoutMs: 60_000 }, async () => {
      const [c, jwt, keys] = await Promise.all([
        consumer('company-acme-tools'),
        secret('company-acme-tools-jwt'),
        secret('company-acme-tools-credentials'),
      ]);
      return !c && !jwt && !keys ? true : undefined;
    });
    expect(
      await admin.db(ns).collection<{ _id: string }>('companies').findOne({ _id: id }),
    ).toMatchObject({ status: 'removed' });
  });
});

test('a Company outside any marketplace namespace is refused with a condition and an Event', async () => {
  await kube.create(company('stray', 'default'));
  await waitForCompany('stray', 'Registered', 'False', 'NoMarketplace', 'default');
  await waitForEvent(kube, 'stray', 'Warning', 'NoMarketplace');
  await kube.delete({ ...COMPANY, namespace: 'default', name: 'stray' });
});
