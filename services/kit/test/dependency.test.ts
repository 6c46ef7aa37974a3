// Which failures say a dependency is away (retried without using up delivery attempts)
// and which are failures of the work itself — from the errors the libraries throw, built
// here without a server.
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import {
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  type TopologyDescription,
} from 'mongodb';
import {
  DependencyRefusal,
  DependencyUnavailable,
  isDependencyFailure,
  PoisonMessage,
} from '../src/index.js';

/** A Node socket error as `net` raises it. */
const socketError = (code: string) =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:25`), { code, syscall: 'connect' });

test('an unreachable database is a dependency failure: no server, a broken connection, a failover', () => {
  const noServer = new MongoServerSelectionError(
    'Server selection timed out after 5000 ms',
    {} as TopologyDescription,
  );
  expect(isDependencyFailure(noServer)).toBe(true);
  expect(isDependencyFailure(new MongoNetworkError('socket hang up'))).toBe(true);
  const steppedDown = new MongoServerError({ message: 'not primary', code: 10107 });
  expect(isDependencyFailure(steppedDown)).toBe(true);
});

test('a mail relay that refuses or drops the connection, or answers 4xx, is a dependency failure', () => {
  expect(isDependencyFailure(socketError('ECONNREFUSED'))).toBe(true);
  // nodemailer's own codes and replies
  expect(isDependencyFailure(Object.assign(new Error('closed'), { code: 'ECONNECTION' }))).toBe(
    true,
  );
  const busy = Object.assign(new Error('421 try later'), { code: 'EENVELOPE', responseCode: 421 });
  expect(isDependencyFailure(busy)).toBe(true);
  const noSuchUser = Object.assign(new Error('550 no such user'), {
    code: 'EENVELOPE',
    responseCode: 550,
  });
  expect(isDependencyFailure(noSuchUser)).toBe(false);
});

test('a dependency policy that gave up, or code that says so, is a dependency failure', () => {
  expect(isDependencyFailure(new BrokenCircuitError())).toBe(true);
  expect(isDependencyFailure(new TaskCancelledError())).toBe(true);
  expect(isDependencyFailure(new DependencyUnavailable('provider', 'down'))).toBe(true);
});

test('a cause is followed: an error wrapping an unreachable dependency is one too', () => {
  const wrapped = new Error('could not load the order', { cause: socketError('ECONNRESET') });
  expect(isDependencyFailure(wrapped)).toBe(true);
  const loop: Error & { cause?: unknown } = new Error('a cause that points back');
  loop.cause = loop;
  expect(isDependencyFailure(loop)).toBe(false);
});

test('failures of the work itself are not: bugs, contract breaks, refused writes', () => {
  expect(isDependencyFailure(new Error('cannot read properties of undefined'))).toBe(false);
  expect(isDependencyFailure(new PoisonMessage('no order id'))).toBe(false);
  const duplicate = new MongoServerError({ message: 'E11000 duplicate key', code: 11000 });
  expect(isDependencyFailure(duplicate)).toBe(false);
  expect(isDependencyFailure('a string')).toBe(false);
  expect(isDependencyFailure(undefined)).toBe(false);
});

test('a refusal is never a dependency failure: the dependency answered, whatever the refusal came from', () => {
  // A provider's no (a payment subclass of DependencyRefusal) carrying a 4xx reply code.
  const refused = Object.assign(new DependencyRefusal('nothing captured'), { responseCode: 409 });
  expect(isDependencyFailure(refused)).toBe(false);
  // A refusal whose cause was a socket error, and a handler's error wrapping the refusal.
  const refusedAfterReset = new DependencyRefusal('over-refund', {
    cause: socketError('ECONNRESET'),
  });
  expect(isDependencyFailure(refusedAfterReset)).toBe(false);
  expect(isDependencyFailure(new Error('refund failed', { cause: refusedAfterReset }))).toBe(false);
});
