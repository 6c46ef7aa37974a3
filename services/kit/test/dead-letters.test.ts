// The properties a message keeps when it is sent on to its retry queue or re-driven from
// its dead-letter queue: its publisher's, without the broker's dead-letter bookkeeping.
import type { MessageProperties } from 'amqplib';
import { RETRIES_HEADER } from '../src/index.js';
import { forwardedProperties } from '../src/messaging/dead-letters.js';

const received: MessageProperties = {
  contentType: 'application/json',
  contentEncoding: undefined,
  headers: {
    'x-death': [{ queue: 'order_paid', reason: 'rejected', count: 1 }] as never,
    'x-first-death-queue': 'order_paid',
    'x-first-death-reason': 'rejected',
    'x-first-death-exchange': 'order_exchange',
    'x-last-death-queue': 'order_paid',
    'x-delivery-count': 5,
    [RETRIES_HEADER]: 3,
    'x-tenant-trace': 'abc',
  },
  deliveryMode: 2,
  priority: undefined,
  correlationId: undefined,
  replyTo: undefined,
  expiration: undefined,
  messageId: 'evt-1',
  timestamp: 1_796_000_000,
  type: 'order.paid',
  userId: undefined,
  appId: undefined,
  clusterId: undefined,
};

test('a message sent on keeps its id, type, timestamp and own headers, and loses the broker’s', () => {
  expect(forwardedProperties(received)).toEqual({
    persistent: true,
    messageId: 'evt-1',
    type: 'order.paid',
    contentType: 'application/json',
    contentEncoding: undefined,
    correlationId: undefined,
    appId: undefined,
    timestamp: 1_796_000_000,
    headers: { [RETRIES_HEADER]: 3, 'x-tenant-trace': 'abc' },
  });
});

test('headers given are set, and undefined ones removed', () => {
  expect(forwardedProperties(received, { [RETRIES_HEADER]: 4 }).headers).toEqual({
    [RETRIES_HEADER]: 4,
    'x-tenant-trace': 'abc',
  });
  expect(forwardedProperties(received, { [RETRIES_HEADER]: undefined }).headers).toEqual({
    'x-tenant-trace': 'abc',
  });
  expect(forwardedProperties({ ...received, deliveryMode: 1 }).persistent).toBe(false);
});
