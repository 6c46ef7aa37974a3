// DatabaseError's reason, from the errors the MongoDB driver throws (built here, no server).
import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoTopologyClosedError,
} from 'mongodb';
import { DatabaseError } from '../src/clients/mongo-admin.js';

// Its constructor wants the topology it could not select from; the name is what counts.
const serverSelection = Object.assign(new Error('Server selection timed out after 5000 ms'), {
  name: 'MongoServerSelectionError',
});

test('an unreachable server is DatabaseUnavailable', () => {
  expect(new DatabaseError(serverSelection).reason).toBe('DatabaseUnavailable');
  expect(new DatabaseError(new MongoNetworkError('socket hang up')).reason).toBe(
    'DatabaseUnavailable',
  );
  expect(new DatabaseError(new MongoNetworkTimeoutError('timed out')).reason).toBe(
    'DatabaseUnavailable',
  );
});

test('a refused login is DatabaseRefused, whatever the error is called', () => {
  const refused = new MongoServerError({ message: 'Authentication failed.', code: 18 });
  expect(new DatabaseError(refused).reason).toBe('DatabaseRefused');
  expect(new DatabaseError(new Error('command createUser: Unauthorized')).reason).toBe(
    'DatabaseRefused',
  );
});

test('anything else is DatabaseError, with the original message and the error as cause', () => {
  const cause = new MongoServerError({ message: 'E11000 duplicate key', code: 11000 });
  const err = new DatabaseError(cause);
  expect(err.reason).toBe('DatabaseError');
  expect(err.message).toBe('E11000 duplicate key');
  expect(err.cause).toBe(cause);
  expect(new DatabaseError(new MongoTopologyClosedError()).reason).toBe('DatabaseError');
  expect(new DatabaseError('not an Error').message).toBe('not an Error');
});
