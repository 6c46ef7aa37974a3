// Sending one event's email at most once. A marker keyed by the event id is inserted
// before the send (a unique _id: of two deliveries only one may send); after the send it
// is marked sent. If the SMTP server refuses or is down, the marker goes and the event
// is redelivered later. If we crash mid-send the marker stays: the email may be lost but
// is never sent twice — at most once, as a customer would rather have it. A marker write
// whose outcome we did not learn (a frozen or failing database) can still land; each
// attempt marks its own, and one this process knows it abandoned before the send is
// taken over by the next delivery instead of being read as "sent". Markers are kept as
// long as a handled message is remembered (no redelivery comes later), then forgotten.
import { randomUUID } from 'node:crypto';
import { inSpan, isDuplicateKey, PoisonMessage, type EventEnvelope } from '@gorten/kit';
import { SpanKind, trace } from '@opentelemetry/api';
import type { Collection } from 'mongodb';
import type { Transporter } from 'nodemailer';
import { compose, MAILED, recipientOf, type Recipient } from './messages.js';

export interface SentEmailDoc {
  /** The event id. */
  _id: string;
  type: string;
  to: string;
  status: 'sending' | 'sent';
  /** Which attempt wrote the marker. */
  attempt?: string;
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
  /**
   * Attempts of this process that stopped before their send while their marker may have
   * been written: nothing was sent under them. (Another replica's are unknown here: for
   * those the email stays at most once.)
   */
  abandoned: Set<string>;
}

const tracer = trace.getTracer('@gorten/notifications');

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
  const attempt = randomUUID();
  if (!(await mark(deps, event, to, attempt))) return; // sent, or being sent
  try {
    // The send to the mail relay as a CLIENT span; the recipient is not recorded.
    await inSpan(
      tracer,
      'smtp send',
      () =>
        deps.transport.sendMail({ from: deps.from, ...email, messageId: `<${event.id}@gorten>` }),
      { kind: SpanKind.CLIENT, attributes: { 'gorten.event.type': event.type } },
    );
  } catch (err) {
    await forget(deps, event.id, attempt);
    throw err;
  }
  await deps.sent.updateOne({ _id: event.id }, { $set: { status: 'sent', at: deps.now() } });
}

/** Writes this attempt's marker; false when another attempt holds the event. */
async function mark(
  deps: MailDeps,
  event: EventEnvelope,
  to: string,
  attempt: string,
): Promise<boolean> {
  try {
    await deps.sent.insertOne({
      _id: event.id,
      type: event.type,
      to,
      status: 'sending',
      attempt,
      at: deps.now(),
    });
    return true;
  } catch (err) {
    if (!isDuplicateKey(err)) {
      deps.abandoned.add(attempt); // the insert may still land; nothing is sent under it
      throw err;
    }
  }
  const held = await deps.sent.findOne({ _id: event.id });
  if (held?.status !== 'sending' || !held.attempt || !deps.abandoned.has(held.attempt))
    return false;
  const taken = await deps.sent.updateOne(
    { _id: event.id, status: 'sending', attempt: held.attempt },
    { $set: { attempt, at: deps.now() } },
  );
  if (taken.modifiedCount !== 1) return false;
  deps.abandoned.delete(held.attempt);
  return true;
}

/** Takes back this attempt's marker after a failed send, so a redelivery sends. */
async function forget(deps: MailDeps, eventId: string, attempt: string): Promise<void> {
  try {
    await deps.sent.deleteOne({ _id: eventId, status: 'sending', attempt });
  } catch {
    deps.abandoned.add(attempt); // the marker may stay: a later delivery takes it over
  }
}

/**
 * Forgets the markers written before `before` (FerretDB has no TTL indexes, so a periodic
 * task calls this), sent or not: a delivery after that would be handled as new, so the
 * retention is the one of handled messages, which outlasts any redelivery.
 */
export async function forgetSentEmails(
  deps: Pick<MailDeps, 'sent'>,
  before: Date,
): Promise<number> {
  return (await deps.sent.deleteMany({ at: { $lt: before } })).deletedCount;
}
