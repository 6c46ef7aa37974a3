// The email worker reads the common environment plus its SMTP server and sender.
import { serviceEnv } from '@gorten/kit';
import { z } from 'zod';

export const notificationsEnv = serviceEnv.extend({
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL'),
  MAIL_FROM: z.email().default('no-reply@gorten.local'),
  MARKETPLACE_DISPLAY_NAME: z.string().min(1).default('the marketplace'),
});
export type NotificationsEnv = z.infer<typeof notificationsEnv>;
