// Assembles the operator from its configuration: clients, controllers, leader election,
// and the HTTP endpoints /metrics, /healthz and /readyz. No I/O happens at import.
import { createServer, type Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import type { Company, Marketplace } from './api/types.js';
import { reconcileCompany } from './company/reconcile.js';
import type { OperatorConfig } from './config.js';
import { Kube } from './clients/kube.js';
import { MongoAdmin } from './clients/mongo-admin.js';
import { RabbitAdmin } from './clients/rabbitmq-admin.js';
import { installCrds, readCrds } from './crds.js';
import { reconcileMarketplace } from './marketplace/reconcile.js';
import { Controller } from './runtime/controller.js';
import { EventRecorder } from './runtime/events.js';
import { LeaderElector } from './runtime/lease.js';
import { OperatorMetrics } from './runtime/metrics.js';

export interface RunningOperator {
  kube: Kube;
  mongo: MongoAdmin;
  rabbit: RabbitAdmin;
  metrics: OperatorMetrics;
  marketplaces: Controller<Marketplace>;
  companies: Controller<Company>;
  elector?: LeaderElector;
  /** The port /metrics, /healthz and /readyz answer on. */
  port: number;
  /** True once this replica leads and its informers have listed everything. */
  ready: () => boolean;
  stop: () => Promise<void>;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { component: 'gorten-operator' },
    redact: {
      paths: ['*.password', '*.token', 'password', 'token', 'err.config'],
      censor: '[redacted]',
    },
  });
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export async function startOperator(
  config: OperatorConfig,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningOperator> {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  const metrics = new OperatorMetrics();
  const kube = new Kube(kc, (verb) => metrics.apiRequests.inc({ verb }));
  const mongo = new MongoAdmin(config.mongoAdminUrl, () =>
    metrics.dependencyWrites.inc({ dependency: 'mongodb' }),
  );
  const rabbit = new RabbitAdmin(
    config.rabbitmq.managementUrl,
    config.rabbitmq.user,
    config.rabbitmq.password,
    () => metrics.dependencyWrites.inc({ dependency: 'rabbitmq' }),
  );
  const events = new EventRecorder(kube, 'gorten-operator', (err) =>
    log.warn({ err }, 'could not record an Event'),
  );

  if (config.installCrds) await installCrds(kube, readCrds());

  const common = {
    concurrency: config.concurrency,
    resyncMs: config.resyncMs,
    labelSelector: config.selector,
    baseDelayMs: 1_000,
    maxDelayMs: 5 * 60_000,
  };
  const marketplaces: Controller<Marketplace> = new Controller<Marketplace>(
    kube,
    kc,
    {
      ...common,
      name: 'marketplace',
      ref: { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' },
      reconcile: async (name) => {
        const result = await reconcileMarketplace(
          {
            kube,
            mongo,
            rabbit,
            events,
            settings: config.settings,
            log,
            cached: (n) => marketplaces.informer.cache.get(n),
          },
          name,
        );
        // Companies waiting for their marketplace need not wait for their backoff.
        for (const key of companies.informer.cache.keys()) {
          if (key.startsWith(`mp-${name}/`)) companies.enqueue(key);
        }
        return result;
      },
    },
    metrics,
    log,
  );
  const companies: Controller<Company> = new Controller<Company>(
    kube,
    kc,
    {
      ...common,
      name: 'company',
      ref: { apiVersion: 'gorten.io/v1alpha1', kind: 'Company' },
      reconcile: (key) =>
        reconcileCompany(
          {
            kube,
            mongo,
            events,
            settings: config.settings,
            log,
            cached: (k) => companies.informer.cache.get(k),
            marketplace: (n) => marketplaces.informer.cache.get(n),
          },
          key,
        ),
    },
    metrics,
    log,
  );
  metrics.tenantConditions = () =>
    [...marketplaces.informer.cache.values()].map((m) => m.status?.conditions ?? []);

  let started = false;
  const startControllers = async (): Promise<void> => {
    await marketplaces.start();
    await companies.start();
    started = true;
  };

  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
        },
        (err: unknown) => {
          log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    if (req.url === '/readyz') {
      // A standby replica is ready too: it is healthy and waiting for the Lease.
      const ok = started || (elector !== undefined && !elector.isLeader);
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'starting');
      return;
    }
    res.writeHead(404).end();
  });
  const port = await listen(server, config.metricsPort, config.metricsHost);
  log.info({ port }, 'listening');

  let elector: LeaderElector | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all([marketplaces.stop(), companies.stop()]);
    await elector
      ?.release()
      .catch((err: unknown) => log.warn({ err }, 'could not release the Lease'));
    metrics.isLeader.set(0);
    await mongo.close();
    kube.close();
    await new Promise((r) => server.close(r));
  };

  if (config.leaderElection.enabled) {
    elector = new LeaderElector(
      kube,
      {
        namespace: config.leaderElection.namespace,
        name: config.leaderElection.name,
        identity: config.leaderElection.identity,
        leaseDurationSeconds: 15,
        retryPeriodMs: 2_000,
      },
      (err) => log.warn({ err }, 'could not reach the leader Lease'),
    );
    void elector.run(
      async () => {
        log.info({ identity: config.leaderElection.identity }, 'became leader');
        metrics.isLeader.set(1);
        await startControllers();
      },
      () => {
        log.error('lost the leader Lease; stopping so that only one replica reconciles');
        metrics.isLeader.set(0);
        void stop().then(() => process.exit(1));
      },
    );
  } else {
    await startControllers();
  }

  return {
    kube,
    mongo,
    rabbit,
    metrics,
    marketplaces,
    companies,
    elector,
    port,
    ready: () => started,
    stop,
  };
}
