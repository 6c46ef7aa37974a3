// MongoDB client spans from the official driver's command monitoring (the driver is
// bundled in production, where no instrumentation could patch it): one CLIENT span per
// command, named `<command> <collection>`, with db.system.name, db.operation.name,
// db.collection.name, db.namespace and the server's address — never the command's values.
// A command outside any trace (a relay sweep, a retention task) starts none.
import { context, SpanKind, trace, type Attributes, type Span } from '@opentelemetry/api';
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
import type { CommandStartedEvent, MongoClient } from 'mongodb';
import { recordFailure } from './spans.js';
import type { Tracing } from './tracing.js';

/** Commands awaiting their reply at most: a bound, should replies ever go missing. */
const MAX_OPEN_SPANS = 10_000;

/** The collection a command names: its first field's value, or getMore's `collection`. */
export function collectionOf(event: Pick<CommandStartedEvent, 'command' | 'commandName'>) {
  const target: unknown = event.command[event.commandName];
  if (typeof target === 'string') return target;
  const collection: unknown = event.command.collection;
  return typeof collection === 'string' ? collection : undefined;
}

/** The span of one command: its name and attributes (no values from the command). */
export function commandSpan(
  event: Pick<CommandStartedEvent, 'command' | 'commandName' | 'databaseName' | 'address'>,
): { name: string; attributes: Attributes } {
  const collection = collectionOf(event);
  const colon = event.address.lastIndexOf(':');
  const port = Number(event.address.slice(colon + 1));
  return {
    name: collection === undefined ? event.commandName : `${event.commandName} ${collection}`,
    attributes: {
      [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_MONGODB,
      [ATTR_DB_OPERATION_NAME]: event.commandName,
      [ATTR_DB_NAMESPACE]: event.databaseName,
      ...(collection === undefined ? {} : { [ATTR_DB_COLLECTION_NAME]: collection }),
      [ATTR_SERVER_ADDRESS]:
        colon > 0 ? event.address.slice(0, colon).replace(/^\[|\]$/g, '') : event.address,
      ...(Number.isInteger(port) && colon > 0 ? { [ATTR_SERVER_PORT]: port } : {}),
    },
  };
}

/** Traces the client's commands; the client must be made with `monitorCommands: true`. */
export function traceCommands(client: MongoClient, tracing: Tracing): void {
  if (!tracing.enabled) return;
  const open = new Map<number, Span>();
  client.on('commandStarted', (event) => {
    const parent = context.active();
    if (!trace.getSpan(parent)?.isRecording() || open.size >= MAX_OPEN_SPANS) return;
    const { name, attributes } = commandSpan(event);
    open.set(
      event.requestId,
      tracing.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent),
    );
  });
  client.on('commandSucceeded', (event) => {
    const span = open.get(event.requestId);
    if (!span) return;
    open.delete(event.requestId);
    span.end();
  });
  client.on('commandFailed', (event) => {
    const span = open.get(event.requestId);
    if (!span) return;
    open.delete(event.requestId);
    const code = (event.failure as { code?: unknown }).code;
    if (typeof code === 'number') span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, String(code));
    recordFailure(span, event.failure);
    span.end();
  });
}
