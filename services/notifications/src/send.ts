// Sending one event's email at most once. A marker keyed by the event id is inserted
// before the send (a unique _id: of two deliveries only one may send); after the send it
// is marked sent. If the SMTP server refuses or is down, the marker goes and the event
// is redelivered later. If we crash mid-send the marker stays: the email may be lost but
// is never sent twice — at most once, as a customer would rather have it.
import { PoisonMessage, type EventEnvelope } from '@gorten/kit';
import { MongoServerError, type Collection } from 'mongodb';
import type { Transporter } from 'nodemailer';
import { compose, MAILED, recipientOf, type Recipient } from './messages.js';

export interface SentEmailDoc {
  /** The event id. */
  _id: string;
  type: string;
  to: string;
  status: 'sending' | 'sent';
  at: Date;
}

export interface MailDeps {
  sent: Collection<SentEmailDoc>;
  users: Collection<{ _id: string; email: string; status: string }>;
  companies: Collection<{ _id: string; contactEmail: string }>;
  transport: Pick<Transporter, 'sendMail'>;
  from: string;
  marketplace: string;
  now: () => Date;
}

async function addressOf(deps: MailDeps, recipient: Recipient): Promise<string | undefined> {
  if (recipient.kind === 'address') return recipient.email;
  if (recipient.kind === 'user')
    return (await deps.users.findOne({ _id: recipient.userId, status: 'active' }))?.email;
  return (await deps.companies.findOne({ _id: recipient.companyId }))?.contactEmail;
}

export async function mailEvent(deps: MailDeps, event: EventEnvelope): Promise<void> {
  if (!(MAILED as readonly string[]).includes(event.type)) return; // not an email
  const recipient = recipientOf(event);
  if (!recipient) throw new PoisonMessage(`${event.type} ${event.id} names no recipient`);
  const to = await addressOf(deps, recipient);
  if (!to) return; // nobody to write to (a disabled user, a removed company)
  const email = compose(event, to, deps.marketplace);
  try {
    await deps.sent.insertOne({
      _id: event.id,
      type: event.type,
      to,
      status: 'sending',
      at: deps.now(),
    });
  } catch (err) {
    if (err instanceof MongoServerError && err.code === 11000) return; // sent, or being sent
    throw err;
  }
  try {
    await deps.transport.sendMail({ from: deps.from, ...email, messageId: `<${event.id}@gorten>` });
  } catch (err) {
    await deps.sent.deleteOne({ _id: event.id, status: 'sending' });
    throw err;
  }
  await deps.sent.updateOne({ _id: event.id }, { $set: { status: 'sent', at: deps.now() } });
}
