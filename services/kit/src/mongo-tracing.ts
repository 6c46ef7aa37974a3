// MongoDB client spans at the kit's own seam: the database a service gets from
// connectMongo hands out collections whose operations (and cursors' reads) are each a
// CLIENT span, named `<operation> <collection>`, with db.system.name, db.operation.name,
// db.collection.name, db.namespace and the server's address — never a value. Not the
// driver's command monitoring: with it on, the driver decodes every reply whole for the
// event, on top of its own lazy decoding (bench/README.md measured it). An operation
// outside any trace (a relay sweep, a retention task) starts none and costs one check.
import {
  context,
  SpanKind,
  trace,
  type Attributes,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { DB_SYSTEM_NAME_VALUE_MONGODB } from '@opentelemetry/semantic-conventions/incubating';
import type { Db } from 'mongodb';
import { recordFailure } from './spans.js';
import type { Tracing } from './tracing.js';

/** Collection methods that are one operation on the server (or a few, for a bulk). */
const OPERATIONS: ReadonlySet<string> = new Set([
  'insertOne',
  'insertMany',
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOne',
  'findOneAndUpdate',
  'findOneAndReplace',
  'findOneAndDelete',
  'countDocuments',
  'estimatedDocumentCount',
  'distinct',
  'bulkWrite',
  'createIndex',
  'createIndexes',
  'dropIndex',
]);
/** Collection methods that return a cursor, whose reads are the operation. */
const CURSORS: ReadonlySet<string> = new Set(['find', 'aggregate']);

export interface MongoServer {
  host: string;
  port?: number;
}

/** The server of a `host:port` seed (brackets of an IPv6 literal dropped). */
export function serverOf(seed: string): MongoServer {
  const colon = seed.lastIndexOf(':');
  const port = Number(seed.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return { host: seed.replace(/^\[|\]$/g, '') };
  return { host: seed.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

/** The span of one operation: its name and attributes (no values from the call). */
export function operationSpan(
  database: string,
  collection: string,
  operation: string,
  server?: MongoServer,
): { name: string; attributes: Attributes } {
  return {
    name: `${operation} ${collection}`,
    attributes: {
      [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_MONGODB,
      [ATTR_DB_OPERATION_NAME]: operation,
      [ATTR_DB_NAMESPACE]: database,
      [ATTR_DB_COLLECTION_NAME]: collection,
      ...(server ? { [ATTR_SERVER_ADDRESS]: server.host } : {}),
      ...(server?.port === undefined ? {} : { [ATTR_SERVER_PORT]: server.port }),
    },
  };
}

type Method = (...args: unknown[]) => unknown;

/** What every span of one operation on one collection starts with: made once, when first used. */
interface OperationStart {
  name: string;
  options: SpanOptions;
}

/**
 * `target` seen through a proxy whose methods are bound to it (the driver's objects keep
 * state on themselves), whose chained calls keep returning the proxy, and whose methods
 * `wrap` picks are replaced by what it makes of them, called with the target as `this`.
 * (One function under two names is wrapped once, for the first name: the driver has no
 * such aliases among the methods traced.) Made once per database and per collection.
 */
function withMethods<T extends object>(
  target: T,
  wrap: (name: string, method: Method) => Method | undefined,
): T {
  // By the function itself: a method replaced on the object (a test holding a read on a
  // latch) is wrapped anew, not answered from what the old one was made into.
  const made = new WeakMap<Method, Method>();
  const proxy: T = new Proxy(target, {
    get(t, key) {
      const value: unknown = Reflect.get(t, key, t);
      if (typeof value !== 'function') return value;
      const own = value as Method;
      let method = made.get(own);
      if (!method) {
        const bound: Method = (...args) => {
          const result = own.apply(t, args);
          return result === t ? proxy : result;
        };
        method = (typeof key === 'string' ? wrap(key, bound) : undefined) ?? bound;
        made.set(own, method);
      }
      return method;
    },
  });
  return proxy;
}

/** The CLIENT span of one call, begun in `parent`; undefined outside a recording span. */
function clientSpan(tracer: Tracer, start: () => OperationStart): Span | undefined {
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return undefined;
  const { name, options } = start();
  return tracer.startSpan(name, options, parent);
}

/** Ends a CLIENT span when the operation's promise settles, a failure recorded on it. */
function endWith<R>(client: Span, operation: Promise<R>): Promise<R> {
  return operation.then(
    (result) => {
      client.end();
      return result;
    },
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') client.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, String(code));
      recordFailure(client, err);
      client.end();
      throw err;
    },
  );
}

/** Runs one operation in a CLIENT span when a recording span is active; as is otherwise. */
function traced(tracer: Tracer, start: () => OperationStart, method: Method): Method {
  return (...args) => {
    const client = clientSpan(tracer, start);
    return client ? endWith(client, method(...args) as Promise<unknown>) : method(...args);
  };
}

/**
 * A cursor's reads traced on the cursor itself (own properties over its class's methods),
 * not through a proxy: a proxy and its bound methods for every find() cost more than the
 * span (bench/README.md). The driver's own reads inside a traced one (toArray iterates
 * with next) are not spans again.
 */
const CURSOR = Symbol('gorten: how a cursor’s reads are traced');
interface TracedCursor {
  [CURSOR]: { tracer: Tracer; start: () => OperationStart; reading: boolean };
  [read: string]: unknown;
}
const CURSOR_READS = ['toArray', 'next', 'tryNext'] as const;
const tracedReads = Object.fromEntries(
  CURSOR_READS.map((read) => [
    read,
    function (this: TracedCursor, ...args: unknown[]): unknown {
      const own = (Object.getPrototypeOf(this) as Record<string, Method>)[read] as Method;
      const state = this[CURSOR];
      const client = state.reading ? undefined : clientSpan(state.tracer, state.start);
      if (!client) return own.apply(this, args);
      state.reading = true;
      const reading = own.apply(this, args) as Promise<unknown>;
      return endWith(
        client,
        reading.finally(() => {
          state.reading = false;
        }),
      );
    },
  ]),
) as Record<(typeof CURSOR_READS)[number], Method>;

/**
 * `for await` over a traced cursor: one span for the whole iteration (the driver's reads
 * inside it, each `next` and getMore, are not spans of their own), ended when the loop is.
 */
async function* tracedIteration(this: TracedCursor): AsyncGenerator {
  const prototype = Object.getPrototypeOf(this) as {
    [Symbol.asyncIterator]: (this: TracedCursor) => AsyncGenerator;
  };
  const state = this[CURSOR];
  const client = state.reading ? undefined : clientSpan(state.tracer, state.start);
  if (client) state.reading = true;
  try {
    for await (const document of prototype[Symbol.asyncIterator].call(this)) yield document;
  } catch (err) {
    if (client) recordFailure(client, err);
    throw err;
  } finally {
    if (client) {
      state.reading = false;
      client.end();
    }
  }
}

function traceCursor(cursor: object, tracer: Tracer, start: () => OperationStart): object {
  const traced = cursor as TracedCursor & { [Symbol.asyncIterator]?: unknown };
  traced[CURSOR] = { tracer, start, reading: false };
  for (const read of CURSOR_READS) traced[read] = tracedReads[read];
  traced[Symbol.asyncIterator] = tracedIteration;
  return cursor;
}

/** The database, its collections' operations traced; itself when tracing is off. */
export function tracedDb(db: Db, tracing: Tracing, server?: MongoServer): Db {
  if (!tracing.enabled) return db;
  const { tracer } = tracing;
  const startOf = (collection: string, operation: string) => {
    let made: OperationStart | undefined;
    return () => {
      if (made) return made;
      const { name, attributes } = operationSpan(db.databaseName, collection, operation, server);
      return (made = { name, options: { kind: SpanKind.CLIENT, attributes } });
    };
  };
  const tracedCollection = (collection: object, name: string) =>
    withMethods(collection, (operation, own) => {
      if (OPERATIONS.has(operation)) return traced(tracer, startOf(name, operation), own);
      if (!CURSORS.has(operation)) return undefined;
      const start = startOf(name, operation);
      return (...args) => traceCursor(own(...args) as object, tracer, start);
    });
  return withMethods(db, (key, method) =>
    key === 'collection'
      ? (...args) => tracedCollection(method(...args) as object, args[0] as string)
      : undefined,
  );
}
