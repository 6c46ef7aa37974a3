// The companies service's HTTP API: validate → one use case → answer.
import { routeFor } from '@gorten/kit';
import {
  createCompany,
  getCompany,
  listCompanies,
  removeCompany,
  updateCompany,
} from './companies.js';
import type { CompaniesDeps } from './deps.js';
import { addMember, listMembers, removeMember } from './members.js';
import {
  company,
  companyChange,
  companyPage,
  companyParams,
  companyQuery,
  companyView,
  member,
  memberPage,
  memberParams,
  memberQuery,
  newCompany,
} from './schemas.js';

const route = routeFor<CompaniesDeps>();

const OPERATOR_MANAGED =
  'The company is managed by its Kubernetes Company resource (only description changes here).';

export const COMPANIES_ROUTES = [
  route({
    method: 'get',
    path: '/companies',
    operationId: 'listCompanies',
    summary: 'Browse companies',
    description:
      'Everyone sees active companies’ public fields; admins see every company in full and may filter by status.',
    tags: ['companies'],
    access: 'optional',
    query: companyQuery,
    responses: { 200: { description: 'A page of companies.', schema: companyPage } },
    errors: { 403: 'A status other than active asked for by someone not an admin.' },
    handle: async ({ principal, query }, deps) => ({
      status: 200,
      body: await listCompanies(deps, principal, query),
    }),
  }),
  route({
    method: 'post',
    path: '/companies',
    operationId: 'createCompany',
    summary: 'Create a company (admins)',
    tags: ['companies'],
    access: ['admin'],
    body: newCompany,
    responses: { 201: { description: 'The new company.', schema: company } },
    handle: async ({ body }, deps) => {
      const created = await createCompany(deps, body);
      return { status: 201, body: created, headers: { Location: `/companies/${created.id}` } };
    },
  }),
  route({
    method: 'get',
    path: '/companies/:id',
    operationId: 'getCompany',
    summary: 'One company',
    description:
      'Admins and the company’s own sellers get the full record; everyone else the public ' +
      'fields of an active company.',
    tags: ['companies'],
    access: 'optional',
    params: companyParams,
    responses: { 200: { description: 'The company.', schema: companyView } },
    errors: { 404: 'No such company, or not one the caller may see.' },
    handle: async ({ principal, params }, deps) => ({
      status: 200,
      body: await getCompany(deps, principal, params.id),
    }),
  }),
  route({
    method: 'patch',
    path: '/companies/:id',
    operationId: 'updateCompany',
    summary: 'Change a company (admins; its sellers: description and contactEmail)',
    tags: ['companies'],
    access: ['admin', 'seller'],
    params: companyParams,
    body: companyChange,
    responses: { 200: { description: 'The company.', schema: company } },
    errors: {
      404: 'No such company.',
      409: `Removed, suspended (for sellers), changed meanwhile, or: ${OPERATOR_MANAGED}`,
    },
    handle: async ({ principal, params, body }, deps) => ({
      status: 200,
      body: await updateCompany(deps, principal, params.id, body),
    }),
  }),
  route({
    method: 'delete',
    path: '/companies/:id',
    operationId: 'removeCompany',
    summary: 'Remove a company (admins): marked removed, its memberships end',
    tags: ['companies'],
    access: ['admin'],
    params: companyParams,
    responses: { 204: { description: 'Removed (also when it was already).' } },
    errors: { 404: 'No such company.', 409: OPERATOR_MANAGED },
    handle: async ({ params }, deps) => {
      await removeCompany(deps, params.id);
      return { status: 204 };
    },
  }),
  route({
    method: 'get',
    path: '/companies/:id/members',
    operationId: 'listMembers',
    summary: 'Who acts for the company (admins and its sellers)',
    tags: ['members'],
    access: ['admin', 'seller'],
    params: companyParams,
    query: memberQuery,
    responses: { 200: { description: 'A page of members.', schema: memberPage } },
    errors: { 404: 'No such company.' },
    handle: async ({ principal, params, query }, deps) => ({
      status: 200,
      body: await listMembers(deps, principal, params.id, query),
    }),
  }),
  route({
    method: 'put',
    path: '/companies/:id/members/:userId',
    operationId: 'addMember',
    summary: 'Let a seller act for the company (admins); idempotent',
    tags: ['members'],
    access: ['admin'],
    params: memberParams,
    responses: {
      200: { description: 'Already a member.', schema: member },
      201: { description: 'Added.', schema: member },
    },
    errors: {
      404: 'No such company.',
      409: 'The company is not active.',
      422: 'No such user, or not an active seller.',
    },
    handle: async ({ principal, params }, deps) => {
      const { member: added, created } = await addMember(deps, principal, params.id, params.userId);
      return created
        ? {
            status: 201,
            body: added,
            headers: { Location: `/companies/${params.id}/members/${params.userId}` },
          }
        : { status: 200, body: added };
    },
  }),
  route({
    method: 'delete',
    path: '/companies/:id/members/:userId',
    operationId: 'removeMember',
    summary: 'Stop a user acting for the company (admins)',
    description: 'Tokens already issued keep the company until they expire.',
    tags: ['members'],
    access: ['admin'],
    params: memberParams,
    responses: { 204: { description: 'Removed.' } },
    errors: { 404: 'The user is not a member.' },
    handle: async ({ params }, deps) => {
      await removeMember(deps, params.id, params.userId);
      return { status: 204 };
    },
  }),
];
