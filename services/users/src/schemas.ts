// Requests, answers and events of the users service: the source of its OpenAPI document.
import {
  atLeastOneField,
  COMPANY_ID_PATTERN,
  emailAddress,
  idPattern,
  pageOf,
  pageQuery,
  ROLES,
  trimmedText,
} from '@gorten/kit';
import { z } from 'zod';

export const email = emailAddress()
  .transform((s) => s.trim().toLowerCase())
  .describe('Email address; compared case-insensitively.');
export const password = z.string().min(10).max(128).describe('10 to 128 characters.');
const personName = trimmedText(100);
export const userId = z.string().regex(idPattern('usr'), 'must be a user id');
const companyId = z.string().min(1).max(64).regex(COMPANY_ID_PATTERN, 'must be a company id');

export const registration = z.strictObject({ email, password, name: personName });

/** The same for a new account and a taken email. */
export const registrationAccepted = z.object({ detail: z.string() });

export const user = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  roles: z.array(z.enum(ROLES)),
  status: z.enum(['active', 'disabled']),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type User = z.infer<typeof user>;

export const userPage = pageOf(user);

export const userQuery = z.strictObject({
  ...pageQuery,
  role: z.enum(ROLES).optional(),
  status: z.enum(['active', 'disabled']).optional(),
  email: z.string().max(254).optional().describe('Exact email address.'),
});

export const newUser = z.strictObject({
  email,
  password,
  name: personName,
  roles: z.array(z.enum(ROLES)).min(1).max(3),
});

export const userChange = atLeastOneField(
  z.strictObject({
    name: personName.optional(),
    roles: z.array(z.enum(ROLES)).min(1).max(3).optional(),
    status: z.enum(['active', 'disabled']).optional(),
  }),
  'name, roles or status is required',
);

export const profileChange = z.strictObject({ name: personName });

export const passwordChange = z.strictObject({
  currentPassword: z.string().max(128),
  newPassword: password,
});

export const userParams = z.strictObject({ id: userId });

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The token endpoint's grants (OAuth 2.0 field names, JSON body). */
export const tokenRequest = z.discriminatedUnion('grant_type', [
  z.strictObject({
    grant_type: z.literal('password'),
    username: email,
    password: z.string().min(1).max(128),
    company: companyId.optional().describe('For a seller of several companies: which one.'),
  }),
  z.strictObject({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string().min(20).max(100),
  }),
  z.strictObject({
    grant_type: z.literal('client_credentials'),
    client_assertion_type: z.literal(CLIENT_ASSERTION_TYPE),
    client_assertion: z
      .string()
      .max(4096)
      .describe(
        "A JWT the company signs with its credential's private key: iss = sub = company id, aud = the marketplace, exp within 5 minutes, a unique jti.",
      ),
  }),
]);
export type TokenRequest = z.infer<typeof tokenRequest>;

export const tokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string().optional(),
});

export const revocation = z.strictObject({ token: z.string().min(1).max(100) });

export type UserRegistered = { userId: string; email: string; name: string };
