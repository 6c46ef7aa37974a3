// The per-tenant messaging topology, read once from rabbitmq/topology.json — the one
// place it is defined (setup-rabbitmq.sh declares the same file on a standalone broker).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Topology } from '../clients/rabbitmq-admin.js';

const args = z.record(z.string(), z.unknown());
const topologySchema = z.strictObject({
  exchanges: z.array(
    z.strictObject({
      name: z.string().min(1),
      type: z.enum(['topic', 'direct', 'fanout', 'headers']),
      durable: z.boolean(),
      auto_delete: z.boolean(),
      internal: z.boolean(),
      arguments: args,
    }),
  ),
  queues: z.array(
    z.strictObject({
      name: z.string().min(1),
      durable: z.boolean(),
      auto_delete: z.boolean(),
      arguments: args,
    }),
  ),
  bindings: z.array(
    z.strictObject({
      source: z.string().min(1),
      destination: z.string().min(1),
      destination_type: z.enum(['queue', 'exchange']),
      routing_key: z.string(),
      arguments: args,
    }),
  ),
});

export const TOPOLOGY_FILE = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'rabbitmq',
  'topology.json',
);

export function parseTopology(json: unknown, source: string): Topology {
  const parsed = topologySchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`${source} is not a valid topology: ${z.prettifyError(parsed.error)}`);
  const names = new Set([...parsed.data.exchanges, ...parsed.data.queues].map((x) => x.name));
  const dangling = parsed.data.bindings.filter(
    (b) => !names.has(b.source) || !names.has(b.destination),
  );
  if (dangling.length > 0) {
    throw new Error(
      `${source}: bindings name undeclared exchanges or queues: ${dangling.map((b) => `${b.source}->${b.destination}`).join(', ')}`,
    );
  }
  return parsed.data;
}

let cached: Topology | undefined;

export function tenantTopology(): Topology {
  cached ??= parseTopology(JSON.parse(readFileSync(TOPOLOGY_FILE, 'utf8')), TOPOLOGY_FILE);
  return cached;
}
