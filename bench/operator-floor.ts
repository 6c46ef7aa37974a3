// The floor the operator is measured against (bench/operator-scale.ts): a bare script
// that, for N Marketplaces at the operator's concurrency, writes what the planes write —
// the namespace, server-side applies of the same objects (the operator's own builders),
// the database user, the vhost, its users and permissions, the topology in one
// definitions import, the cache's ACL user — with no reads, comparisons or conditions,
// then waits, as Ready does, until every Deployment is available. Its Marketplaces carry
// a label no operator selects (they exist to own the objects, for garbage collection).
import { MongoClient } from 'mongodb';
import { createClient } from 'redis';
import type { TestEnv } from '@gorten/testenv';
import {
  BROKER_PERMISSIONS,
  buildAdminSecret,
  buildBrokerSecret,
  buildCacheSecret,
  buildConfigMap,
  buildDatabaseSecret,
  buildGatewayPlane,
  buildIdempotencySecret,
  buildNamespacePlane,
  buildSigningKeySecret,
  buildSmtpSecret,
  buildWorkloadsPlane,
  configDigest,
  eachBounded,
  generatePassword,
  generateRsaKeyPair,
  loadConfig,
  rolloutLag,
  tenantNames,
  tenantTopology,
  type Kube,
  type KubeObject,
  type Marketplace,
} from '@gorten/operator';
import { tenantCacheUserRules } from '@gorten/kit/tenant-contract';
import { waitUntil } from './support.js';

const MARKETPLACE = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' } as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

export interface FloorRun {
  seconds: number;
  /** Drops everything the run made (namespaces go with their Marketplaces). */
  cleanUp: () => Promise<void>;
}

export async function runFloor(
  kube: Kube,
  env: TestEnv,
  config: ReturnType<typeof loadConfig>,
  names: readonly string[],
  label: Record<string, string>,
): Promise<FloorRun> {
  const { settings } = config;
  const mongo = new MongoClient(config.mongoAdminUrl);
  const redis = config.redisAdmin && 'url' in config.redisAdmin ? config.redisAdmin.url : undefined;
  const cache = redis ? createClient({ url: redis }) : undefined;
  await mongo.connect();
  await cache?.connect();
  const rabbitAuth = `Basic ${Buffer.from(`${env.rabbitmq.user}:${env.rabbitmq.password}`).toString('base64')}`;
  const rabbit = async (method: string, path: string, body: unknown): Promise<void> => {
    const answer = await fetch(`${env.rabbitmq.managementUrl}/api${path}`, {
      method,
      headers: { authorization: rabbitAuth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
  };
  const roles = !('ferretdbVersion' in (await mongo.db('admin').command({ buildInfo: 1 })));
  const topology = tenantTopology();
  /** How many Deployments the run applied: all of them must become available. */
  let deployments = 0;

  const tenant = async (name: string): Promise<void> => {
    const mp = await kube.create<Marketplace>({
      ...MARKETPLACE,
      metadata: { name, labels: label },
      spec: { displayName: name, host: `${name}.bench.example.com`, deletionPolicy: 'Delete' },
    });
    const n = tenantNames(name);
    const [namespace, ...guardRails] = buildNamespacePlane(mp, settings);
    if (namespace) await kube.create(namespace);
    const credentials = {
      databasePassword: generatePassword(),
      brokerPassword: generatePassword(),
      cachePassword: generatePassword(),
      adminPassword: generatePassword(),
      signingKey: generateRsaKeyPair(),
      idempotencyKey: generatePassword(32),
      smtpUrl: settings.smtpUrl,
    };
    const digest = configDigest([credentials, buildConfigMap(mp, settings).data]);
    const objects: KubeObject[] = [
      ...guardRails,
      buildDatabaseSecret(mp, settings, credentials.databasePassword),
      buildBrokerSecret(mp, settings, credentials.brokerPassword),
      ...(settings.redisTenantHost
        ? [buildCacheSecret(mp, settings.redisTenantHost, credentials.cachePassword)]
        : []),
      buildSigningKeySecret(mp, credentials.signingKey),
      buildAdminSecret(mp, credentials.adminPassword),
      buildSmtpSecret(mp, settings),
      buildIdempotencySecret(mp, credentials.idempotencyKey),
      ...buildWorkloadsPlane(mp, settings, digest),
      ...buildGatewayPlane(mp, settings, credentials.signingKey.publicPem),
    ];
    deployments += objects.filter((o) => o.kind === 'Deployment').length;
    const v = encodeURIComponent(n.vhost);
    await Promise.all([
      ...objects.map((o) => kube.apply(o)),
      (async () => {
        const db = mongo.db(n.database);
        await db.collection('_gorten').insertOne({ createdAt: new Date() });
        await db.command({
          createUser: n.databaseUser,
          pwd: credentials.databasePassword,
          roles: roles ? [{ role: 'readWrite', db: n.database }] : [],
        });
      })(),
      (async () => {
        await rabbit('PUT', `/vhosts/${v}`, { description: 'Gorten tenant', tags: 'gorten' });
        await Promise.all([
          rabbit('PUT', `/permissions/${v}/${encodeURIComponent(env.rabbitmq.user)}`, {
            configure: '.*',
            write: '.*',
            read: '.*',
          }),
          rabbit('PUT', `/users/${encodeURIComponent(n.brokerUser)}`, {
            password: credentials.brokerPassword,
            tags: '',
          }).then(() =>
            rabbit(
              'PUT',
              `/permissions/${v}/${encodeURIComponent(n.brokerUser)}`,
              BROKER_PERMISSIONS,
            ),
          ),
          rabbit('POST', `/definitions/${v}`, topology),
        ]);
      })(),
      cache?.sendCommand([
        'ACL',
        'SETUSER',
        n.cacheUser,
        ...tenantCacheUserRules(n.cacheKeyPrefix, credentials.cachePassword),
      ]),
    ]);
  };

  const started = performance.now();
  try {
    await eachBounded(names, config.concurrency, tenant);
    const namespaces = new Set(names.map((name) => tenantNames(name).namespace));
    await waitUntil(
      `the floor's ${names.length} tenants' Deployments available`,
      30 * 60_000,
      async () => {
        const { items } = await kube.list<KubeObject>(
          DEPLOYMENT,
          'labelSelector=gorten.io/marketplace',
        );
        const mine = items.filter((d) => namespaces.has(d.metadata.namespace ?? ''));
        return mine.length === deployments && rolloutLag(mine).length === 0;
      },
    );
    return { seconds: (performance.now() - started) / 1000, cleanUp };
  } catch (err) {
    await cleanUp();
    throw err;
  }

  async function cleanUp(): Promise<void> {
    await eachBounded(names, config.concurrency, async (name) => {
      const n = tenantNames(name);
      await kube.delete({ ...MARKETPLACE, name });
      await mongo.db(n.database).dropDatabase();
      await mongo
        .db(n.database)
        .command({ dropUser: n.databaseUser })
        .catch(() => undefined);
      await fetch(`${env.rabbitmq.managementUrl}/api/vhosts/${encodeURIComponent(n.vhost)}`, {
        method: 'DELETE',
        headers: { authorization: rabbitAuth },
      });
      await fetch(`${env.rabbitmq.managementUrl}/api/users/${encodeURIComponent(n.brokerUser)}`, {
        method: 'DELETE',
        headers: { authorization: rabbitAuth },
      });
      await cache?.sendCommand(['ACL', 'DELUSER', n.cacheUser]);
    });
    await mongo.close();
    await cache?.close();
  }
}
