// Requests and answers of the companies service: the source of its OpenAPI document.
import {
  atLeastOneField,
  COMPANY_ID_PATTERN,
  emailAddress,
  idPattern,
  pageOf,
  pageQuery,
  trimmedText,
} from '@gorten/kit';
import { z } from 'zod';
import { COMPANY_STATUSES } from './store.js';

export const companyId = z
  .string()
  .regex(COMPANY_ID_PATTERN, 'must be a company id')
  .describe('A company id.');
export const userId = z.string().regex(idPattern('usr'), 'must be a user id');

const displayName = trimmedText(100);
const contactEmail = emailAddress();
const description = trimmedText(2000, 'allowed');
const adjustableStatus = z
  .enum(['active', 'suspended'])
  .describe('Removal is DELETE; a removed company stays removed.');

export const publicCompany = z.strictObject({
  id: z.string(),
  displayName: z.string(),
  description: z.string().nullable(),
  createdAt: z.iso
    .datetime()
    .nullable()
    .describe('Null for companies recorded from Kubernetes Company resources.'),
});
export type PublicCompany = z.infer<typeof publicCompany>;

export const company = publicCompany
  .extend({
    contactEmail: z.string(),
    status: z.enum(COMPANY_STATUSES),
    managedBy: z
      .string()
      .describe(
        '`api` for companies made here; `gorten-operator` for Kubernetes Company resources, ' +
          'whose fields other than description change only through the resource.',
      ),
    updatedAt: z.iso.datetime().nullable(),
  })
  .describe("The full record: admins, and the company's own sellers.");
export type Company = z.infer<typeof company>;

/** What a caller sees of one company: the full record, or its public face. */
export const companyView = z.union([company, publicCompany]);

export const companyPage = pageOf(companyView);

export const companyQuery = z.strictObject({
  ...pageQuery,
  q: trimmedText(100).optional().describe('Part of the display name, in any case.'),
  status: z
    .enum(COMPANY_STATUSES)
    .optional()
    .describe('Admins only; everyone else sees active companies.'),
});

export const newCompany = z.strictObject({
  displayName,
  contactEmail,
  description: description.optional(),
});

export const companyChange = atLeastOneField(
  z.strictObject({
    displayName: displayName.optional(),
    contactEmail: contactEmail.optional(),
    description: description.nullable().optional().describe('Null clears it.'),
    status: adjustableStatus.optional(),
  }),
  'displayName, contactEmail, description or status is required',
);
export type CompanyChange = z.infer<typeof companyChange>;

export const companyParams = z.strictObject({ id: companyId });

export const member = z.strictObject({
  userId: z.string(),
  addedAt: z.iso.datetime(),
  addedBy: z.string().describe('The admin who added them.'),
});
export type Member = z.infer<typeof member>;

export const memberPage = pageOf(member);

export const memberQuery = z.strictObject(pageQuery);

export const memberParams = z.strictObject({ id: companyId, userId });
