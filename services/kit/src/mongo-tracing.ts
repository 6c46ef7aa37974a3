// MongoDB client spans at the kit's own seam: the database a service gets from
// connectMongo hands out collections whose operations (and cursors' reads) are each a
// CLIENT span, named `<operation> <collection>`, with db.system.name, db.operation.name,
// db.collection.name, db.namespace and the server's address — never a value. Not the
// driver's command monitoring: with it on, the driver decodes every reply whole for the
// event, on top of its own lazy decoding (bench/README.md measured it). An operation
// outside any trace (a relay sweep, a retention task) starts none and costs one check.
import { context, SpanKind, trace, type Attributes, type Tracer } from '@opentelemetry/api';
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
/** The cursor reads traced: each sends the query or a getMore, or answers from its batch. */
const CURSOR_READS: ReadonlySet<string> = new Set(['toArray', 'next', 'tryNext']);

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

/**
 * `target` seen through a proxy whose methods are bound to it (the driver's objects keep
 * state on themselves), whose chained calls (`cursor.sort(...)`) keep returning the proxy,
 * and whose methods `wrap` picks are replaced by what it makes of them. (One function
 * under two names is wrapped once, for the first name: the driver has no such aliases
 * among the methods traced.)
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

/** Runs one operation in a CLIENT span when a recording span is active; as is otherwise. */
function traced(tracer: Tracer, span: () => { name: string; attributes: Attributes }) {
  return (method: Method): Method =>
    (...args) => {
      const parent = context.active();
      if (!trace.getSpan(parent)?.isRecording()) return method(...args);
      const { name, attributes } = span();
      const client = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
      return (method(...args) as Promise<unknown>).then(
        (result) => {
          client.end();
          return result;
        },
        (err: unknown) => {
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'number')
            client.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, String(code));
          recordFailure(client, err);
          client.end();
          throw err;
        },
      );
    };
}

/** The database, its collections' operations traced; itself when tracing is off. */
export function tracedDb(db: Db, tracing: Tracing, server?: MongoServer): Db {
  if (!tracing.enabled) return db;
  const spans = new Map<string, { name: string; attributes: Attributes }>();
  const spanOf = (collection: string, operation: string) => () => {
    const key = `${operation} ${collection}`;
    let span = spans.get(key);
    if (!span)
      spans.set(key, (span = operationSpan(db.databaseName, collection, operation, server)));
    return span;
  };
  const tracedCollection = (collection: object, name: string) =>
    withMethods(collection, (operation, own) => {
      if (OPERATIONS.has(operation)) return traced(tracing.tracer, spanOf(name, operation))(own);
      if (!CURSORS.has(operation)) return undefined;
      return (...args) =>
        withMethods(own(...args) as object, (read, next) =>
          CURSOR_READS.has(read)
            ? traced(tracing.tracer, spanOf(name, operation))(next)
            : undefined,
        );
    });
  return withMethods(db, (key, method) =>
    key === 'collection'
      ? (...args) => tracedCollection(method(...args) as object, args[0] as string)
      : undefined,
  );
}
