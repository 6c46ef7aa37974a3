// The users service's HTTP API: validate → one use case → answer.
import { routeFor } from '@gorten/kit';
import {
  changePassword,
  createUser,
  getUser,
  listUsers,
  register,
  REGISTRATION_ANSWER,
  updateUser,
} from './accounts.js';
import type { UsersDeps } from './deps.js';
import { grantToken, revokeRefreshToken } from './grants.js';
import {
  newUser,
  passwordChange,
  profileChange,
  registration,
  registrationAccepted,
  revocation,
  tokenRequest,
  tokenResponse,
  user,
  userChange,
  userPage,
  userParams,
  userQuery,
} from './schemas.js';

const route = routeFor<UsersDeps>();

export const USERS_ROUTES = [
  route({
    method: 'post',
    path: '/auth/register',
    operationId: 'register',
    summary: 'Create a buyer account',
    description:
      'A taken email gets the same answer as a free one, and its account is left as it is: ' +
      'registration does not tell who has an account. Sign in to use the new one.',
    tags: ['auth'],
    access: 'public',
    body: registration,
    responses: {
      202: {
        description: 'Accepted: the account exists now, unless the email was taken.',
        schema: registrationAccepted,
      },
    },
    errors: { 503: 'Too many registrations at once; see Retry-After.' },
    handle: async ({ body }, deps) => {
      await register(deps, body);
      return { status: 202, body: REGISTRATION_ANSWER };
    },
  }),
  route({
    method: 'post',
    path: '/auth/token',
    operationId: 'issueToken',
    summary: 'Issue an access token (password, refresh_token or client_credentials grant)',
    description:
      'Access tokens are RS256 JWTs signed with the marketplace key. A refresh token is good once: ' +
      'using one twice revokes every token descended from the same sign-in.',
    tags: ['auth'],
    access: 'public',
    oauth2Flows: ['password', 'clientCredentials'],
    body: tokenRequest,
    responses: { 200: { description: 'The tokens.', schema: tokenResponse } },
    errors: {
      401: 'The client assertion is not valid (client_credentials: OAuth invalid_client).',
      403: 'The user does not act for the company asked for.',
      429: 'Too many failed attempts for this email or address; see Retry-After.',
      503: 'Too many sign-ins at once; see Retry-After.',
    },
    handle: async ({ body, ctx }, deps) => ({
      status: 200,
      body: await grantToken(deps, body, ctx.ip),
      headers: { 'Cache-Control': 'no-store' },
    }),
  }),
  route({
    method: 'post',
    path: '/auth/revoke',
    operationId: 'revokeToken',
    summary: 'Sign out: revoke a refresh token and every token rotated from the same sign-in',
    tags: ['auth'],
    access: 'public',
    body: revocation,
    responses: { 204: { description: 'Revoked; an unknown token is not an error (RFC 7009).' } },
    handle: async ({ body }, deps) => {
      await revokeRefreshToken(deps, body.token);
      return { status: 204 };
    },
  }),
  route({
    method: 'get',
    path: '/me',
    operationId: 'getMe',
    summary: 'The signed-in user',
    tags: ['me'],
    access: 'authenticated',
    responses: { 200: { description: 'The account.', schema: user } },
    errors: { 404: 'The token is not a user’s (a company credential).' },
    handle: async ({ principal }, deps) => ({
      status: 200,
      body: await getUser(deps, principal.userId),
    }),
  }),
  route({
    method: 'patch',
    path: '/me',
    operationId: 'updateMe',
    summary: 'Change the signed-in user’s name',
    tags: ['me'],
    access: 'authenticated',
    body: profileChange,
    responses: { 200: { description: 'The account.', schema: user } },
    errors: { 404: 'The token is not a user’s.' },
    handle: async ({ principal, body }, deps) => {
      await getUser(deps, principal.userId);
      return {
        status: 200,
        body: await updateUser(deps, principal, principal.userId, { name: body.name }),
      };
    },
  }),
  route({
    method: 'put',
    path: '/me/password',
    operationId: 'changeMyPassword',
    summary: 'Change the password; every refresh token of the user is revoked',
    tags: ['me'],
    access: 'authenticated',
    body: passwordChange,
    responses: { 204: { description: 'Changed.' } },
    errors: {
      404: 'No such user.',
      409: 'Changed meanwhile.',
      422: 'The current password is wrong.',
      429: 'Too many wrong passwords for this account; see Retry-After.',
      503: 'Too many sign-ins at once; see Retry-After.',
    },
    handle: async ({ principal, body }, deps) => {
      await changePassword(deps, principal.userId, body.currentPassword, body.newPassword);
      return { status: 204 };
    },
  }),
  route({
    method: 'get',
    path: '/users',
    operationId: 'listUsers',
    summary: 'List users (admins)',
    tags: ['users'],
    access: ['admin'],
    query: userQuery,
    responses: { 200: { description: 'A page of users.', schema: userPage } },
    handle: async ({ query }, deps) => ({ status: 200, body: await listUsers(deps, query) }),
  }),
  route({
    method: 'post',
    path: '/users',
    operationId: 'createUser',
    summary: 'Create a user with any roles (admins)',
    tags: ['users'],
    access: ['admin'],
    body: newUser,
    responses: { 201: { description: 'The new user.', schema: user } },
    errors: { 409: 'The email is taken.' },
    handle: async ({ body }, deps) => {
      const created = await createUser(deps, body);
      return { status: 201, body: created, headers: { Location: `/users/${created.id}` } };
    },
  }),
  route({
    method: 'get',
    path: '/users/:id',
    operationId: 'getUser',
    summary: 'One user (admins)',
    tags: ['users'],
    access: ['admin'],
    params: userParams,
    responses: { 200: { description: 'The user.', schema: user } },
    errors: { 404: 'No such user.' },
    handle: async ({ params }, deps) => ({ status: 200, body: await getUser(deps, params.id) }),
  }),
  route({
    method: 'patch',
    path: '/users/:id',
    operationId: 'updateUser',
    summary:
      'Change a user’s name, roles or status (admins); role and status changes sign them out',
    tags: ['users'],
    access: ['admin'],
    params: userParams,
    body: userChange,
    responses: { 200: { description: 'The user.', schema: user } },
    errors: { 404: 'No such user.', 409: 'An admin may not demote or disable themselves.' },
    handle: async ({ params, body, principal }, deps) => ({
      status: 200,
      body: await updateUser(deps, principal, params.id, body),
    }),
  }),
];
