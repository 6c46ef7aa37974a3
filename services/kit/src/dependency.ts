// Telling a dependency that is away (the database, the broker, a mail relay, a payment
// provider) from a failure of the work itself, in one place. A consumer retries the first
// kind for as long as it takes, without using up a message's delivery attempts; only the
// second kind counts towards the queue's delivery limit and ends in the dead-letter queue.
// A dependency that answered no (DependencyRefusal) is neither: it is up, and its answer
// is final — never an outage, never retried, never counted by a circuit breaker.
import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import {
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

/**
 * The dependency answered, and its answer is no (a payment already captured cannot be
 * voided): a decision, not a failure of the dependency. Asking again would be answered
 * the same, so it is never retried, and it never counts toward opening the circuit —
 * a few such answers must not cut everyone else off the dependency.
 */
export class DependencyRefusal extends Error {
  override name = 'DependencyRefusal';
}

/** Thrown by code that knows a dependency it needs cannot answer now. */
export class DependencyUnavailable extends Error {
  override name = 'DependencyUnavailable';
  constructor(
    readonly dependency: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Error codes of a connection that could not be made or was lost: Node's socket errors,
 * and nodemailer's connection codes (ECONNECTION, ESOCKET, EDNS; its ETIMEDOUT is Node's).
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
]);

/**
 * MongoDB server errors of a replica set changing hands or a server going away (the
 * driver's retryable codes): a failover, a shutdown, a step-down.
 */
const MONGO_TRANSIENT_CODES = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);

function isUnreachable(err: object): boolean {
  if (err instanceof DependencyUnavailable) return true;
  // MongoDB: no server to select (down, unreachable), or the connection broke mid-call.
  if (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNetworkError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError ||
    err instanceof MongoOperationTimeoutError
  )
    return true;
  // No pooled connection came free in time (waitQueueTimeoutMS): the database is overloaded.
  // The driver does not export the class, only its name.
  if (err instanceof MongoError && err.name === 'MongoWaitQueueTimeoutError') return true;
  if (
    err instanceof MongoError &&
    (err.hasErrorLabel(MongoErrorLabel.RetryableWriteError) ||
      (typeof err.code === 'number' && MONGO_TRANSIENT_CODES.has(err.code)))
  )
    return true;
  // A dependency policy (resilience.ts) that gave up: open circuit, full bulkhead, timeout.
  if (
    err instanceof BrokenCircuitError ||
    err instanceof BulkheadRejectedError ||
    err instanceof TaskCancelledError
  )
    return true;
  const { code, responseCode } = err as { code?: unknown; responseCode?: unknown };
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  // An SMTP server's 4xx reply is transient by definition (421 service not available,
  // 450/451/452 try again later); a 5xx is permanent and a failure of this message.
  return typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500;
}

/**
 * Whether `err`, or an error it was caused by, says a dependency is unavailable. A refusal
 * met on the way ends the search: whatever it was caused by, the dependency answered.
 */
export function isDependencyFailure(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let cause = err; typeof cause === 'object' && cause !== null;) {
    if (seen.has(cause) || cause instanceof DependencyRefusal) return false;
    seen.add(cause);
    if (isUnreachable(cause)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}
