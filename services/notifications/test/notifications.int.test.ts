// The email worker against a real SMTP server (smtp-server, in this process, reached
// through a cable the tests can pull), the real RabbitMQ and FerretDB: each notification
// event becomes exactly one email — also when the event is delivered again, after the
// SMTP server refused mail for a while, and after it could not be reached for longer
// than the queue's delivery attempts last; its markers are forgotten once no redelivery
// can come.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { newId, type RunningService } from '@gorten/kit';
import {
  client,
  expectOpenApiUpToDate,
  startTestService,
  TestTenant,
} from '@gorten/service-testing';
import { MongoNetworkError } from 'mongodb';
import { eventually, tcpCable, type Cable } from '@gorten/testenv';
import { SMTPServer } from 'smtp-server';
import { notificationsService } from '../src/app.js';
import type { NotificationsDeps } from '../src/deps.js';
import { forgetSentEmails, type SentEmailDoc } from '../src/send.js';

interface Received {
  to: string[];
  raw: string;
}

let tenant: TestTenant;
let service: RunningService<NotificationsDeps>;
let smtp: SMTPServer;
let smtpCable: Cable;
let refusing = false;
const received: Received[] = [];

function startSmtp(port = 0): Promise<number> {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onRcptTo(_address, _session, callback) {
      // A server that is up but refuses mail: the worker must try again later.
      callback(refusing ? Object.assign(new Error('try later'), { responseCode: 451 }) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  return new Promise((resolve) =>
    smtp.listen(port, '127.0.0.1', () => resolve((smtp.server.address() as AddressInfo).port)),
  );
}

beforeAll(async () => {
  tenant = await TestTenant.create('notify');
  smtpCable = await tcpCable(`smtp://127.0.0.1:${await startSmtp()}`);
  service = await startTestService(notificationsService, tenant, 'notifications', {
    SMTP_URL: smtpCable.url,
    MARKETPLACE_DISPLAY_NAME: 'Test Market',
  });
});

afterAll(async () => {
  await service.close();
  await smtpCable.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await tenant.destroy();
});

function event(type: string, data: unknown) {
  return { id: randomUUID(), type, occurredAt: new Date().toISOString(), data };
}

async function publish(e: { id: string }): Promise<void> {
  await tenant.publish('notification_exchange', '', Buffer.from(JSON.stringify(e)), e.id);
}

const to = (address: string) => received.filter((r) => r.to.includes(address));
const arrived = (done: boolean) => Promise.resolve(done ? true : undefined);

async function buyer(): Promise<{ id: string; email: string }> {
  const id = newId('usr');
  const email = `${id}@example.com`;
  await tenant.db
    .collection('users')
    .insertOne({ _id: id as never, email, name: 'Bea', roles: ['buyer'], status: 'active' });
  return { id, email };
}

const ORDER = {
  total: 7_400,
  currency: 'EUR',
  items: [
    {
      productId: 'prd_1',
      companyId: 'co_1',
      sku: 'K-1',
      name: 'Kettle',
      unitPrice: 2_500,
      quantity: 2,
      lineTotal: 5_000,
    },
  ],
};

test('an order confirmation reaches the SMTP server exactly once, also when the event is redelivered', async () => {
  const bea = await buyer();
  const confirmation = event('order.confirmation', { ...ORDER, orderId: 'ord_1', buyerId: bea.id });
  await publish(confirmation);
  await publish(confirmation); // the same event again, as a redelivery brings it
  await eventually({ what: 'the confirmation', timeoutMs: 15_000 }, () =>
    arrived(to(bea.email).length > 0),
  );
  await new Promise((r) => setTimeout(r, 1_000));
  expect(to(bea.email)).toHaveLength(1);
  const mail = to(bea.email)[0]?.raw ?? '';
  expect(mail).toContain('Subject: Your order ord_1');
  expect(mail).toContain('2 x Kettle: 50.00 EUR');
  expect(mail).toContain('Total: 74.00 EUR');
});

test('a marker write the database applied but never confirmed still ends in one email', async () => {
  const bea = await buyer();
  const receipt = event('payment.receipt', { ...ORDER, orderId: 'ord_lost', buyerId: bea.id });
  // The database takes the marker and the answer is lost (a freeze, a cut connection).
  const sent = service.deps.sent;
  const insertOne = sent.insertOne.bind(sent);
  sent.insertOne = async (doc: Parameters<typeof insertOne>[0]) => {
    const written = await insertOne(doc);
    if (doc._id !== receipt.id) return written;
    throw new MongoNetworkError('connection reset after the write');
  };
  try {
    await publish(receipt);
    await eventually({ what: 'the receipt', timeoutMs: 30_000 }, () =>
      arrived(to(bea.email).length > 0),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(to(bea.email)).toHaveLength(1);
    expect(await sent.findOne({ _id: receipt.id })).toMatchObject({ status: 'sent' });
  } finally {
    sent.insertOne = insertOne;
  }
});

test('welcome, receipt, shipment and low-stock mails go to the right people', async () => {
  const bea = await buyer();
  const company = `co_${randomUUID().replaceAll('-', '')}`;
  await tenant.db.collection('companies').insertOne({
    _id: company as never,
    displayName: 'Kettles Ltd',
    contactEmail: `${company}@example.com`,
    status: 'active',
    managedBy: 'api',
  });
  const newcomer = `new-${randomUUID()}@example.com`;
  await publish(event('user.registered', { userId: 'usr_x', email: newcomer, name: 'Nina' }));
  await publish(event('payment.receipt', { ...ORDER, orderId: 'ord_2', buyerId: bea.id }));
  await publish(
    event('shipment.ready', {
      orderId: 'ord_2',
      companyId: company,
      items: [{ sku: 'K-1', quantity: 2 }],
    }),
  );
  await publish(
    event('inventory.low_stock', {
      companyId: company,
      productId: 'prd_1',
      sku: 'K-1',
      name: 'Kettle',
      stock: 2,
      threshold: 3,
    }),
  );
  await eventually({ what: 'four mails', timeoutMs: 15_000 }, () =>
    arrived(to(newcomer).length + to(bea.email).length + to(`${company}@example.com`).length >= 4),
  );
  expect(to(newcomer)[0]?.raw).toContain('Subject: Welcome to Test Market');
  expect(to(bea.email)[0]?.raw).toContain('Subject: Receipt for order ord_2');
  const companyMail = to(`${company}@example.com`).map((m) => m.raw);
  expect(companyMail.some((m) => m.includes('Subject: Ship order ord_2'))).toBe(true);
  expect(companyMail.some((m) => m.includes('Subject: Low stock: K-1'))).toBe(true);
});

test('with the SMTP server refusing for a while, the email is sent once it accepts again', async () => {
  const bea = await buyer();
  refusing = true;
  try {
    await publish(event('payment.receipt', { ...ORDER, orderId: 'ord_3', buyerId: bea.id }));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(to(bea.email)).toHaveLength(0);
  } finally {
    refusing = false;
  }
  await eventually({ what: 'the receipt after the outage', timeoutMs: 20_000 }, () =>
    arrived(to(bea.email).length > 0),
  );
  await new Promise((r) => setTimeout(r, 1_000));
  expect(to(bea.email)).toHaveLength(1);
});

test('with the SMTP server unreachable for 30 s, the email waits in the retry queue and is sent once', async () => {
  const bea = await buyer();
  smtpCable.connected(false); // connections refused: every try fails at once
  try {
    await publish(event('payment.receipt', { ...ORDER, orderId: 'ord_5', buyerId: bea.id }));
    // Longer than the queue's delivery limit lasts when every try counts: six tries with
    // pauses of 0.5 s doubling to 10 s, about 26 s.
    await new Promise((r) => setTimeout(r, 30_000));
    expect(to(bea.email)).toHaveLength(0);
    expect(await tenant.drain('email_notifications.dlq')).toEqual([]);
  } finally {
    smtpCable.connected(true);
  }
  await eventually({ what: 'the receipt after the outage', timeoutMs: 60_000 }, () =>
    arrived(to(bea.email).length > 0),
  );
  await new Promise((r) => setTimeout(r, 1_000));
  expect(to(bea.email)).toHaveLength(1);
}, 120_000);

test('an event without a recipient goes to the dead-letter queue; others are ignored', async () => {
  await publish(event('order.confirmation', { orderId: 'ord_4' }));
  await publish(event('something.else', {}));
  const dead = await eventually({ what: 'the dead letter', timeoutMs: 15_000 }, async () => {
    const messages = await tenant.drain('email_notifications.dlq');
    return messages.length > 0 ? messages : undefined;
  });
  expect(dead).toHaveLength(1);
  expect(dead[0]?.body).toMatchObject({ type: 'order.confirmation' });
});

test('markers of emails older than the redelivery retention go, sent or not; younger ones stay', async () => {
  const sent = tenant.db.collection<SentEmailDoc>('sent_emails');
  const day = 86_400_000;
  const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day);
  const [old, stuck, young] = [randomUUID(), randomUUID(), randomUUID()];
  await sent.insertMany([
    { _id: old, type: 'order.paid', to: 'a@example.test', status: 'sent', at: at(8) },
    {
      _id: stuck,
      type: 'order.paid',
      to: 'b@example.test',
      status: 'sending',
      attempt: 'x',
      at: at(8),
    },
    { _id: young, type: 'order.paid', to: 'c@example.test', status: 'sent', at: at(6) },
  ]);
  const forgotten = await forgetSentEmails(service.deps, at(7));
  expect(forgotten).toBeGreaterThanOrEqual(2);
  const left = await sent.find({ _id: { $in: [old, stuck, young] } }).toArray();
  expect(left.map((m) => m._id)).toEqual([young]);
  // The sweep runs in the service itself, at the common retention of handled messages.
  expect(notificationsService.periodic?.(service.deps).map((t) => t.name)).toEqual([
    'sent-emails-retention',
  ]);
});

test('serves its OpenAPI document (health only), and the checked-in copy is up to date', async () => {
  await expectOpenApiUpToDate(
    notificationsService,
    join(import.meta.dirname, '..'),
    client(service.url),
  );
});
