// What every controller runs inside (controller-runtime's manager): the clients, the
// HTTP endpoints /metrics, /healthz and /readyz, leader election, and the controllers
// added to it, started together once this replica leads and stopped together.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from './clients/kube.js';
import { Kube } from './clients/kube.js';
import { MongoAdmin } from './clients/mongo-admin.js';
import { RabbitAdmin } from './clients/rabbitmq-admin.js';
import { RedisAdmin } from './clients/redis-admin.js';
import { ServiceMonitorSupport } from './clients/service-monitors.js';
import type { OperatorConfig } from './config.js';
import type { OperatorSettings } from './settings.js';
import { installCrds, readCrds } from './crds.js';
import { Controller, type ControllerOptions } from './runtime/controller.js';
import { EventRecorder } from './runtime/events.js';
import { LeaderElector } from './runtime/lease.js';
import { OperatorMetrics } from './runtime/metrics.js';
import type { PlaneObserver } from './runtime/plan.js';

/** What every reconciler acts with, from the manager. */
export interface OperatorClients {
  kube: Kube;
  mongo: MongoAdmin;
  rabbit: RabbitAdmin;
  /** Redis for the tenants' caches; undefined when none is configured (the cache is off). */
  redis?: RedisAdmin;
  events: EventRecorder;
  /** Whether the cluster serves ServiceMonitors (the Prometheus Operator's CRDs). */
  serviceMonitors: ServiceMonitorSupport;
  settings: OperatorSettings;
  log: Logger;
  now?: () => Date;
  /** Set per controller (its name labels the metrics): what each plane took, and failed. */
  planes?: PlaneObserver;
}

/** What a controller brings; the manager adds its clients, concurrency and timing. */
export type ControllerSpec<T extends KubeObject> = Pick<
  ControllerOptions<T>,
  'name' | 'ref' | 'reconcile'
>;

/** What the manager starts and stops: its controllers and shared informers. */
export interface Runnable {
  start(): Promise<void>;
  stop(): Promise<void>;
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

/** client-go's defaults: a leader that could not renew for 10 s stops, 5 s before a standby may take over. */
const LEASE_TIMING = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  requestTimeoutMs: 5_000,
  retryPeriodMs: 2_000,
} as const;

export class Manager {
  readonly kc = new KubeConfig();
  readonly metrics = new OperatorMetrics();
  readonly kube: Kube;
  readonly mongo: MongoAdmin;
  readonly rabbit: RabbitAdmin;
  readonly redis?: RedisAdmin;
  readonly events: EventRecorder;
  readonly serviceMonitors: ServiceMonitorSupport;
  /** Undefined when leader election is off: this replica then always leads. */
  readonly elector?: LeaderElector;
  private readonly leaseKube?: Kube;
  private readonly controllers: Runnable[] = [];
  private readonly server = createServer((req, res) => {
    this.serve(req.url, res);
  });
  private started = false;
  private stopping = false;
  /** The port /metrics, /healthz and /readyz answer on, once `start` has resolved. */
  port = 0;

  constructor(
    readonly config: OperatorConfig,
    readonly log: Logger,
  ) {
    if (config.kubeconfig) this.kc.loadFromFile(config.kubeconfig);
    else this.kc.loadFromDefault();
    const { metrics } = this;
    this.kube = new Kube(this.kc, (verb) => metrics.apiRequests.inc({ verb }));
    this.mongo = new MongoAdmin(config.mongoAdminUrl, () =>
      metrics.dependencyWrites.inc({ dependency: 'mongodb' }),
    );
    this.rabbit = new RabbitAdmin(
      config.rabbitmq.managementUrl,
      config.rabbitmq.user,
      config.rabbitmq.password,
      () => metrics.dependencyWrites.inc({ dependency: 'rabbitmq' }),
    );
    if (config.redisAdmin)
      this.redis = new RedisAdmin(config.redisAdmin, () =>
        metrics.dependencyWrites.inc({ dependency: 'redis' }),
      );
    this.events = new EventRecorder(this.kube, 'gorten-operator', (err) =>
      log.warn({ err }, 'could not record an Event'),
    );
    this.serviceMonitors = new ServiceMonitorSupport(
      this.kube,
      log,
      config.serviceMonitorRecheckMs,
    );
    if (config.leaderElection.enabled) {
      // A client of its own: renewals never queue behind the reconciles' requests.
      this.leaseKube = new Kube(this.kc, (verb) => metrics.apiRequests.inc({ verb }));
      this.elector = new LeaderElector(
        this.leaseKube,
        {
          namespace: config.leaderElection.namespace,
          name: config.leaderElection.name,
          identity: config.leaderElection.identity,
          ...LEASE_TIMING,
        },
        (err) => log.warn({ err }, 'could not reach the leader Lease'),
      );
    }
  }

  /** A controller with the manager's clients and timing; it starts with the others. */
  add<T extends KubeObject>(spec: ControllerSpec<T>): Controller<T> {
    const controller = new Controller<T>(
      this.kube,
      this.kc,
      {
        ...spec,
        concurrency: this.config.concurrency,
        resyncMs: this.config.resyncMs,
        labelSelector: this.config.selector,
        baseDelayMs: 1_000,
        maxDelayMs: 5 * 60_000,
      },
      this.metrics,
      this.log,
    );
    this.controllers.push(controller);
    return controller;
  }

  /**
   * Something that starts before the controllers added after it (a shared informer, whose
   * cache must be full before their first reconcile) and stops with them.
   */
  run(runnable: Runnable): void {
    this.controllers.push(runnable);
  }

  get clients(): OperatorClients {
    const { kube, mongo, rabbit, redis, events, serviceMonitors, log } = this;
    const { settings } = this.config;
    return { kube, mongo, rabbit, redis, events, serviceMonitors, settings, log };
  }

  /** True once this replica leads and every controller's informer has listed everything. */
  get ready(): boolean {
    return this.started;
  }

  /**
   * Serves the endpoints, then runs the controllers: at once without leader election,
   * else once the Lease is ours (in the background; losing it stops the process).
   */
  async start(): Promise<void> {
    if (this.config.installCrds) await installCrds(this.kube, readCrds());
    this.port = await listen(this.server, this.config.metricsPort, this.config.metricsHost);
    this.log.info({ port: this.port }, 'listening');
    if (!this.elector) {
      await this.startControllers();
      return;
    }
    const exit = () => void this.stop().finally(() => process.exit(1));
    void this.elector.run({
      onStartedLeading: async () => {
        this.log.info({ identity: this.config.leaderElection.identity }, 'became leader');
        this.metrics.isLeader.set(1);
        await this.startControllers().catch((err: unknown) => {
          this.log.error({ err }, 'the controllers did not start; stopping');
          exit();
        });
      },
      onStoppedLeading: () => {
        this.log.error(
          'could not renew the leader Lease in time; stopping so that only one replica reconciles',
        );
        this.metrics.isLeader.set(0);
        exit();
      },
    });
  }

  private async startControllers(): Promise<void> {
    // Once before the first reconcile, so the answer is logged at start.
    await this.serviceMonitors.check();
    for (const controller of this.controllers) await controller.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.elector
      ?.release()
      .catch((err: unknown) => this.log.warn({ err }, 'could not release the Lease'));
    this.metrics.isLeader.set(0);
    await this.mongo.close();
    await this.redis?.close();
    this.kube.close();
    this.leaseKube?.close();
    await new Promise((r) => this.server.close(r));
  }

  private serve(url: string | undefined, res: ServerResponse): void {
    if (url === '/metrics') {
      this.metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
        },
        (err: unknown) => {
          this.log.error({ err }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    if (url === '/readyz') {
      // A standby replica is ready too: it is healthy and waiting for the Lease.
      const ok = this.started || (this.elector !== undefined && !this.elector.isLeader);
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'starting');
      return;
    }
    res.writeHead(404).end();
  }
}
