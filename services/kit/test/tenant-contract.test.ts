// The record the operator keeps for a Company resource, as the services read it.
import { COMPANY_ID_PATTERN, operatorCompanyRecord } from '../src/index.js';

const company = {
  id: 'co_0123456789abcdef0123456789abcdef',
  displayName: 'ACME Tools',
  contactEmail: 'sales@acme.example.com',
  publicKey: '-----BEGIN PUBLIC KEY-----',
};

test('an active company is managed by the operator and publishes its key under its id', () => {
  const record = operatorCompanyRecord({ ...company, status: 'active' });
  expect(record).toEqual({
    _id: company.id,
    displayName: 'ACME Tools',
    contactEmail: 'sales@acme.example.com',
    status: 'active',
    managedBy: 'gorten-operator',
    credential: { keyId: company.id, algorithm: 'RS256', publicKey: company.publicKey },
  });
  expect(record._id).toMatch(COMPANY_ID_PATTERN);
});

test('a suspended or removed company, or one without a key yet, has no credential', () => {
  expect(operatorCompanyRecord({ ...company, status: 'suspended' }).credential).toBeNull();
  expect(operatorCompanyRecord({ ...company, status: 'removed' }).credential).toBeNull();
  expect(
    operatorCompanyRecord({ ...company, status: 'active', publicKey: null }).credential,
  ).toBeNull();
});
