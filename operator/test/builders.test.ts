// The Marketplace builders are pure: CR in, manifests out.
import type { Marketplace } from '../src/api/types.js';
import type { KubeObject } from '../src/clients/kube.js';
import {
  buildBrokerSecret,
  buildDatabaseSecret,
  passwordOf,
} from '../src/marketplace/credentials.js';
import { buildNamespacePlane } from '../src/marketplace/namespace.js';
import { tenantNames } from '../src/marketplace/names.js';
import { parseTopology, tenantTopology } from '../src/marketplace/topology.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

const mp: Marketplace = {
  apiVersion: 'gorten.io/v1alpha1',
  kind: 'Marketplace',
  metadata: { name: 'acme', uid: 'uid-1', generation: 2 },
  spec: { displayName: 'ACME', host: 'acme.shop.example.com' },
};

const decode = (secret: KubeObject, key: string): string =>
  Buffer.from((secret.data as Record<string, string>)[key] ?? '', 'base64').toString();

test('every child is labelled and owned by the Marketplace, in its namespace', () => {
  const objects = buildNamespacePlane(mp, DEFAULT_SETTINGS);
  expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
    'Namespace/mp-acme',
    'ResourceQuota/tenant-quota',
    'LimitRange/tenant-defaults',
    'NetworkPolicy/tenant-ingress',
  ]);
  for (const o of objects) {
    expect(o.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'gorten-operator',
      'gorten.io/marketplace': 'acme',
    });
    expect(o.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'gorten.io/v1alpha1',
        kind: 'Marketplace',
        name: 'acme',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('mp-acme');
  }
});

test('the NetworkPolicy denies all ingress but the gateway, monitoring and the tenant itself', () => {
  const policy = buildNamespacePlane(mp, DEFAULT_SETTINGS).find((o) => o.kind === 'NetworkPolicy');
  expect(policy?.spec).toEqual({
    podSelector: {},
    policyTypes: ['Ingress'],
    ingress: [
      {
        from: [
          { namespaceSelector: { matchLabels: { 'gorten.io/role': 'gateway' } } },
          { namespaceSelector: { matchLabels: { 'gorten.io/role': 'monitoring' } } },
          { podSelector: {} },
        ],
      },
    ],
  });
});

test('credential Secrets carry a URI with the escaped password and round-trip it', () => {
  const settings = { ...DEFAULT_SETTINGS, mongoTenantHost: 'db:27017', amqpTenantHost: 'mq:5672' };
  const db = buildDatabaseSecret(mp, settings, 'p@ss/word');
  expect(decode(db, 'uri')).toBe(
    'mongodb://mp-acme-app:p%40ss%2Fword@db:27017/mp-acme?authSource=mp-acme',
  );
  expect(passwordOf(db)).toBe('p@ss/word');
  const mq = buildBrokerSecret(mp, settings, 'secret');
  expect(decode(mq, 'uri')).toBe('amqp://mp-acme-app:secret@mq:5672/mp-acme');
  expect(decode(mq, 'vhost')).toBe('mp-acme');
  expect(passwordOf(undefined)).toBeUndefined();
});

test('names derive from the Marketplace name alone', () => {
  expect(tenantNames('acme')).toMatchObject({
    namespace: 'mp-acme',
    database: 'mp-acme',
    vhost: 'mp-acme',
    databaseUser: 'mp-acme-app',
  });
});

test('the topology file holds the brief’s exchanges and dead-letters every work queue', () => {
  const topology = tenantTopology();
  expect(topology.exchanges.map((e) => `${e.name}:${e.type}`)).toEqual(
    expect.arrayContaining([
      'order_exchange:topic',
      'product_exchange:topic',
      'notification_exchange:fanout',
    ]),
  );
  const work = topology.queues.filter((q) => !q.name.endsWith('.dlq'));
  expect(work.map((q) => q.name).sort()).toEqual([
    'email_notifications',
    'inventory_update',
    'order_created',
    'order_paid',
  ]);
  for (const q of work) {
    expect(q.arguments).toMatchObject({
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': 'dead_letter_exchange',
      'x-delivery-limit': 5,
    });
    expect(topology.bindings).toContainEqual(
      expect.objectContaining({
        source: 'dead_letter_exchange',
        destination: `${q.name}.dlq`,
        routing_key: q.name,
      }),
    );
  }
});

test('a malformed topology is refused with the file name and the problem', () => {
  expect(() =>
    parseTopology(
      {
        exchanges: [],
        queues: [],
        bindings: [
          {
            source: 'x',
            destination: 'y',
            destination_type: 'queue',
            routing_key: '',
            arguments: {},
          },
        ],
      },
      'topology.json',
    ),
  ).toThrow(/topology.json: bindings name undeclared exchanges or queues: x->y/);
  expect(() =>
    parseTopology(
      { exchanges: [{ name: 'e', type: 'fan' }], queues: [], bindings: [] },
      'topology.json',
    ),
  ).toThrow(/not a valid topology/);
});
