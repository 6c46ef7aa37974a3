// The email worker as the kit starts it: no API of its own (health and metrics only),
// one consumer of the tenant's email_notifications queue, and the sweep of its markers.
import { RETENTION_SWEEP_MS, SHARED_COLLECTIONS, type ServiceDefinition } from '@gorten/kit';
import { createTransport } from 'nodemailer';
import { notificationsEnv, type NotificationsEnv } from './config.js';
import type { NotificationsDeps } from './deps.js';
import { forgetSentEmails, mailEvent } from './send.js';

export const notificationsService: ServiceDefinition<NotificationsEnv, NotificationsDeps> = {
  info: {
    title: 'Gorten notifications',
    version: '0.1.0',
    description:
      'The email worker of one marketplace. It serves only health, metrics and this document.',
  },
  env: notificationsEnv,
  indexes: [],
  routes: [],
  deps: ({ env, db }) => ({
    env,
    sent: db.collection('sent_emails'),
    users: db.collection(SHARED_COLLECTIONS.users),
    companies: db.collection(SHARED_COLLECTIONS.companies),
    transport: createTransport(env.SMTP_URL),
    from: env.MAIL_FROM,
    marketplace: env.MARKETPLACE_DISPLAY_NAME,
    now: () => new Date(),
    abandoned: new Set(),
  }),
  // Emails' markers are forgotten when their events' handling is (no TTL indexes).
  periodic: (deps) => [
    {
      name: 'sent-emails-retention',
      everyMs: RETENTION_SWEEP_MS,
      run: async () => {
        await forgetSentEmails(
          deps,
          new Date(Date.now() - deps.env.PROCESSED_MESSAGE_RETENTION_MS),
        );
      },
    },
  ],
  consumers: (deps) => [
    {
      name: 'notifications-email',
      queue: 'email_notifications',
      handle: (event) => mailEvent(deps, event),
    },
  ],
};
