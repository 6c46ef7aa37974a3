// What the email worker's consumer works with; built once at start (app.ts).
import type { NotificationsEnv } from './config.js';
import type { MailDeps } from './send.js';

export interface NotificationsDeps extends MailDeps {
  env: NotificationsEnv;
}
