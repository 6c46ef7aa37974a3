// npm start: the whole platform on this machine. The real servers of the test environment
// (data kept in .gorten/), the operator, the demo Marketplace and Company from examples/,
// the tenant's services configured from what the operator provisioned, a local gateway
// with Swagger UI, a mail catcher, a Prometheus scraping it all and a demo catalog.
// Ctrl-C stops it all.
//
// Settings (environment): GORTEN_PORT (8080) — the API and docs; GORTEN_HOME (.gorten) —
// data, logs and caught mail.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  describeOwned,
  envVars,
  eventually,
  goServerVersions,
  OWNERS,
  missingBinaries,
  ensureBinaries,
  platformJobs,
  repoRoot,
  startEnvironment,
  startPrometheus,
  stopRecordedEnvironment,
  sweepOwner,
  withOwner,
  withStartLock,
  type Prometheus,
} from '@gorten/testenv';
import { SERVICE_NODE_FLAGS } from '@gorten/kit/node-flags';
import { parseAllDocuments } from 'yaml';
import {
  Kube,
  tenantNames,
  type Company,
  type KubeObject,
  type Marketplace,
} from '@gorten/operator';
import { startGateway } from './gateway.js';
import { startMailCatcher, type MailCatcher } from './mail.js';
import {
  checkNode,
  checkPortFree,
  checkSystemPackages,
  runningPid,
  StartRefused,
} from './preflight.js';
import { Children } from './processes.js';
import { Progress } from './progress.js';
import { seedDemo, type DemoAccount } from './seed.js';
import {
  decodeSecretData,
  serviceEnvironments,
  type DataMap,
  type DeploymentLike,
} from './tenant.js';

const FIELD_MANAGER = 'gorten-start';
function examples(): KubeObject[] {
  return ['marketplace.yaml', 'company.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(join(repoRoot, 'examples', file), 'utf8')).map(
      (doc) => doc.toJS() as KubeObject,
    ),
  );
}

function isTrue(object: KubeObject | undefined, type: string): boolean {
  const status = object?.status as { conditions?: { type: string; status: string }[] } | undefined;
  return status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

async function dataOf(
  kube: Kube,
  kind: 'Secret' | 'ConfigMap',
  namespace: string,
): Promise<DataMap> {
  const list = await kube.list<KubeObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind,
    namespace,
  });
  return Object.fromEntries(
    list.items.map((o) => [
      o.metadata.name,
      kind === 'Secret' ? decodeSecretData(o.data) : (o.data ?? {}),
    ]),
  );
}

interface Running {
  mail?: MailCatcher;
  gateway?: Server;
  prometheus?: Prometheus;
  children: Children;
  /** The owner (testenv's owners.ts) of every process this start, or one before it, started. */
  owner: string;
}

function say(message: string): void {
  process.stderr.write(`npm start: ${message}\n`);
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : JSON.stringify(err);
}

/** Every step runs whatever failed before it: a stop always ends with nothing running. */
async function stopEverything(running: Running): Promise<void> {
  const steps: [string, () => Promise<unknown>][] = [
    [
      'the gateway',
      () =>
        new Promise<void>((done) =>
          running.gateway ? running.gateway.close(() => done()) : done(),
        ),
    ],
    ['Prometheus', async () => running.prometheus?.stop()],
    ['the operator and the services', () => running.children.stopAll()],
    ['the mail catcher', async () => running.mail?.close()],
    // The servers this start recorded; their data folder is kept for the next start.
    ['the servers', () => stopRecordedEnvironment()],
    ['whatever else it started', () => sweepOwner(running.owner)],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      say(`stopping ${what} failed (${describeError(err)}); going on`);
    }
  }
}

/** Stops what a start that was killed (SIGKILL, a crash) left running here. */
async function stopLeftovers(owner: string): Promise<void> {
  const left = await sweepOwner(owner);
  if (left.length > 0)
    say(`stopped ${left.length} processes an earlier start left running: ${describeOwned(left)}`);
  await stopRecordedEnvironment();
}

async function start(
  home: string,
  port: number,
  running: Running,
  progress: Progress,
): Promise<void> {
  const [marketplace, company] = examples() as [Marketplace, Company];
  const names = tenantNames(marketplace.metadata.name);

  const versions = goServerVersions();
  checkSystemPackages(missingBinaries(versions).length === 0);
  await progress.run(
    'Building the servers from the Go module proxy (first start only: several minutes)',
    () => Promise.resolve(ensureBinaries(versions)),
  );

  const env = await progress.run(
    'Starting etcd, kube-apiserver, controller-manager, scheduler, kwok, FerretDB, RabbitMQ, Redis and Jaeger',
    () =>
      withStartLock(async () => {
        await stopLeftovers(running.owner); // its data stays
        return startEnvironment({ dataDir: join(home, 'data'), tracing: true });
      }),
  );
  const logDir = env.logDir;
  const jaeger = env.jaeger;
  if (!jaeger) throw new Error('the environment started without Jaeger');
  // Every process sends its spans to Jaeger, a batch a second (the default is 5 s).
  const tracing = {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '1000',
  };

  running.mail = await startMailCatcher(
    join(home, 'mail'),
    (file, mail) => process.stdout.write(`mail to ${mail.to}: "${mail.subject}" (${file})\n`),
    (err) => say(`mail catcher: ${err.message}`),
  );
  const smtpUrl = `smtp://127.0.0.1:${running.mail.port}`;

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(env.kube.kubeconfig);
  const kube = new Kube(kubeConfig);
  const operatorPort = await progress.run(
    'Starting the operator (it installs the CRDs)',
    async () => {
      const operator = running.children.startTypeScript('operator', 'operator/src/main.ts', {
        ...envVars(env, join(home, 'run', 'current.json')),
        GORTEN_INSTALL_CRDS: 'true',
        GORTEN_LEADER_ELECT: 'false',
        GORTEN_METRICS_HOST: '127.0.0.1',
        GORTEN_METRICS_PORT: '0',
        GORTEN_SMTP_URL: smtpUrl,
        GORTEN_LOG_LEVEL: 'info',
        ...tracing,
      });
      return running.children.waitReady(operator, '/readyz', 120_000);
    },
  );

  const companyId = await progress.run(
    `Applying examples/: Marketplace ${marketplace.metadata.name} and Company ${company.metadata.name}`,
    async () => {
      await eventually({ what: 'the Marketplace accepted', timeoutMs: 60_000 }, async () =>
        kube.apply(marketplace, FIELD_MANAGER),
      );
      // Ready, and provisioned by this run: the Secrets carry this run's server addresses.
      await eventually(
        {
          what: `Marketplace ${marketplace.metadata.name} Ready`,
          timeoutMs: 180_000,
          logFile: join(logDir, 'operator.log'),
        },
        async () => {
          const live = await kube.get<Marketplace>({
            ...marketplace,
            name: marketplace.metadata.name,
          });
          const secrets = await dataOf(kube, 'Secret', names.namespace);
          const current =
            secrets[names.databaseSecret]?.uri?.includes(`@${new URL(env.mongo.url).host}/`) &&
            secrets[names.cacheSecret]?.uri?.endsWith(`@${env.redis.address}`) &&
            secrets[names.smtpSecret]?.uri === smtpUrl;
          return isTrue(live, 'Ready') && current ? true : undefined;
        },
      );
      await kube.apply(company, FIELD_MANAGER);
      return eventually(
        { what: `Company ${company.metadata.name} Ready`, timeoutMs: 120_000 },
        async () => {
          const live = await kube.get<Company>({
            ...company,
            namespace: company.metadata.namespace,
            name: company.metadata.name,
          });
          return isTrue(live, 'Ready') ? live?.status?.companyId : undefined;
        },
      );
    },
  );

  // Read once the operator has provisioned them for this run (checked above).
  const secrets = await dataOf(kube, 'Secret', names.namespace);
  const upstreams = await progress.run(
    'Starting the tenant’s services as its Deployments declare them',
    async () => {
      const deployments = await kube.list<KubeObject & DeploymentLike>({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: names.namespace,
      });
      const environments = serviceEnvironments(
        deployments.items,
        await dataOf(kube, 'ConfigMap', names.namespace),
        secrets,
      );
      // Each service binds a port of its own choosing on loopback and reports it.
      const started = [...environments].map(async ([service, serviceEnv]) => {
        const child = running.children.startTypeScript(
          service,
          `services/${service}/src/main.ts`,
          { ...serviceEnv, ...tracing, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'info' },
          SERVICE_NODE_FLAGS,
        );
        return [service, await running.children.waitReady(child, '/readyz', 120_000)] as const;
      });
      return new Map(await Promise.all(started));
    },
  );

  // Scrapes the operator, every service and the broker (a second or so: not a step).
  running.prometheus = await startPrometheus({
    dataDir: join(home, 'data', 'prometheus'),
    logDir,
    scrapeIntervalMs: 5_000,
    jobs: platformJobs({
      operator: `127.0.0.1:${operatorPort}`,
      services: [...upstreams].map(([service, servicePort]) => ({
        service,
        marketplace: marketplace.metadata.name,
        address: `127.0.0.1:${servicePort}`,
      })),
      rabbitmq: new URL(env.rabbitmq.prometheusUrl).host,
    }),
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  running.gateway = await progress.run(`Starting the gateway on ${baseUrl}`, () =>
    startGateway(port, upstreams, (err) => say(`gateway: ${err.message}`)),
  );

  const admin: DemoAccount = {
    role: 'admin',
    email: secrets[names.adminSecret]?.email ?? '',
    password: secrets[names.adminSecret]?.password ?? '',
  };
  const accounts = await progress.run('Seeding the demo catalog through the API', () =>
    seedDemo({
      baseUrl,
      admin,
      companyId,
      currency: marketplace.spec.currency ?? 'EUR',
      emailDomain: marketplace.spec.host,
    }),
  );

  const width = Math.max(...accounts.map((a) => a.email.length));
  process.stdout.write(
    [
      '',
      `Gorten is running: marketplace "${marketplace.spec.displayName}"`,
      `  API          ${baseUrl}   (e.g. ${baseUrl}/products)`,
      `  Swagger UI   ${baseUrl}/docs/`,
      `  Demo accounts (POST ${baseUrl}/auth/token with grant_type=password):`,
      ...accounts.map((a) => `    ${a.role.padEnd(6)}  ${a.email.padEnd(width)}  ${a.password}`),
      `  Test card    4242424242424242 (GET ${baseUrl}/payments/test-cards): POST it to`,
      `               /payments/methods as the buyer, then /checkout {"paymentMethod":"pm_…"}`,
      `  Prometheus   ${running.prometheus.url}   (what it scrapes: ${running.prometheus.url}/classic/targets)`,
      `  Redis        ${env.redis.address}   (the catalog's cache; each tenant has an ACL user of its own)`,
      `  Mail         caught in ${join(home, 'mail')} (SMTP ${smtpUrl})`,
      `  Jaeger       ${jaeger.queryUrl}   (traces of a service: ${jaeger.queryUrl}/api/traces?service=checkout)`,
      `  Logs         ${logDir}`,
      `  Kubernetes   KUBECONFIG=${env.kube.kubeconfig} kubectl get marketplaces,companies -A`,
      '',
      'Press Ctrl-C to stop. Data is kept in ' + join(home, 'data') + ' for the next start.',
      '',
    ].join('\n'),
  );
}

async function main(): Promise<number> {
  const home = resolve(process.env.GORTEN_HOME ?? join(repoRoot, '.gorten'));
  const port = Number(process.env.GORTEN_PORT ?? 8080);
  const running: Running = {
    children: new Children(repoRoot, join(home, 'run', 'logs')),
    // One name per home folder: the next start here finds what this one leaves running.
    owner: `npm-start:${createHash('sha256').update(home).digest('hex').slice(0, 16)}`,
  };
  // The servers' records and logs live under home, apart from the tests' environment.
  process.env.GORTEN_TESTENV_HOME = join(home, 'run');
  // Everything started from here is owned by this home's start (and any inherited owner).
  process.env[OWNERS] = withOwner(running.owner);
  const progress = new Progress(7);
  const pidFile = join(home, 'start.pid');
  let stopping = false;
  const stop = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    process.stdout.write('Stopping …\n');
    await stopEverything(running);
    rmSync(pidFile, { force: true });
    process.stdout.write('Stopped; data kept.\n');
    return code;
  };
  try {
    checkNode();
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new StartRefused(
        `GORTEN_PORT must be a port number (1-65535), not "${process.env.GORTEN_PORT}".`,
      );
    const other = runningPid(pidFile);
    if (other)
      throw new StartRefused(
        `Gorten is already running here (pid ${other}); stop it with Ctrl-C first.`,
      );
    await checkPortFree(port, 'GORTEN_PORT');
    mkdirSync(join(home, 'run', 'logs'), { recursive: true });
    writeFileSync(pidFile, String(process.pid));
  } catch (err) {
    process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const signalled = new Promise<void>((done) => {
    const onSignal = (): void => {
      progress.interrupted = true;
      done();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  // A bug anywhere in this process still ends in a full stop, never in orphans.
  const crashed = new Promise<unknown>((done) => {
    let first = true;
    const onCrash = (err: unknown): void => {
      if (first) done(err);
      else say(`unexpected error while stopping: ${describeError(err)}`);
      first = false;
    };
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
  });
  const started = start(home, port, running, progress).then(
    () => undefined,
    (err: unknown) => err,
  );
  const failure = await Promise.race([started, crashed, signalled.then(() => undefined)]);
  // Ctrl-C while starting: stopping the servers and children ends the steps still waiting.
  if (progress.interrupted) return stop(0);
  if (failure !== undefined) {
    say(describeError(failure));
    return stop(1);
  }
  const crash = await Promise.race([crashed, signalled.then(() => undefined)]);
  if (crash !== undefined) {
    say(`unexpected error, stopping: ${describeError(crash)}`);
    return stop(1);
  }
  return stop(0);
}

// Exit explicitly: client connection pools may keep the event loop alive after stopping.
process.exit(await main());
