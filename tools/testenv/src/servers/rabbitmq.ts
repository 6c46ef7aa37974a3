// RabbitMQ from Debian, as an isolated node: its own node name, ports, data folder and
// epmd (ERL_EPMD_PORT), so it neither meets nor disturbs a broker already on the machine.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { withFreePorts } from '../ports.js';
import { StartupError, startServer, stopServer, eventually } from '../process.js';
import { okBody } from '../http.js';
import type { StartContext } from './context.js';
import { ensureDebianPackage } from './debian.js';

const SERVER_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export interface RabbitAccess {
  amqpUrl: string;
  managementUrl: string;
  /** The rabbitmq_prometheus plugin's listener: /metrics, /metrics/detailed?family=… */
  prometheusUrl: string;
  user: string;
  password: string;
  nodeName: string;
  epmdPort: number;
  version: string;
}

/** Installs Debian's rabbitmq-server when it is missing and we may (root); else explains. */
export function ensureRabbitMqInstalled(): void {
  ensureDebianPackage('RabbitMQ', SERVER_SCRIPT, 'rabbitmq-server');
}

/** Debian's broker runs as user rabbitmq; when we are root we drop to it as its wrapper would. */
function brokerIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = ['-u', '-g'].map((flag) =>
    Number(execFileSync('id', [flag, 'rabbitmq']).toString()),
  );
  return uid !== undefined && gid !== undefined ? { uid, gid } : undefined;
}

/**
 * The broker runs as its own user, which must be able to pass through every folder above
 * its data. A private parent (mode 0700, as home folders often are) stops it at boot with
 * a cryptic Erlang error; say which folder it is instead.
 */
function assertReachable(dir: string, broker: { uid: number; gid: number }): void {
  for (let path = dirname(dir); path !== dirname(path); path = dirname(path)) {
    const { mode, uid, gid } = statSync(path);
    const searchable =
      (mode & 0o001) !== 0 ||
      (uid === broker.uid && (mode & 0o100) !== 0) ||
      (gid === broker.gid && (mode & 0o010) !== 0);
    if (!searchable)
      throw new StartupError(
        `RabbitMQ runs as the user rabbitmq, which cannot enter ${path} (mode ${(mode & 0o777).toString(8)}) ` +
          `to reach its data in ${dir}. Allow it (chmod o+x ${path}) or keep the data elsewhere ` +
          '(npm start: GORTEN_HOME=/var/tmp/gorten).',
      );
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
  }
}

function tcpOpen(port: number): Promise<true> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', reject);
  });
}

/**
 * The node's own rabbitmq.conf (RABBITMQ_CONFIG_FILE), so that the machine's
 * /etc/rabbitmq/rabbitmq.conf, if any, never adds listeners to it. The management and
 * Prometheus listeners bind 127.0.0.1 on our ports (`ss -ltn` shows them). When that port is taken,
 * RabbitMQ fails with `{acceptor,{0,0,0,0,0,0,0,0},Port} ... eaddrinuse`: the zeros are in
 * the listener's name, not its address. The AMQP listener comes from
 * RABBITMQ_NODE_IP_ADDRESS/PORT (the start script checks them before boot), the
 * distribution listener's interface from a kernel argument (it binds 0.0.0.0 otherwise).
 */
function brokerConfig(ports: { management: number; prometheus: number }): string {
  return [
    'management.tcp.ip = 127.0.0.1',
    `management.tcp.port = ${ports.management}`,
    // rabbitmq_prometheus: its listener takes the same keys as the management one.
    'prometheus.tcp.ip = 127.0.0.1',
    `prometheus.tcp.port = ${ports.prometheus}`,
    // Statistics every second (default 5): tests that close a vhost's connections through
    // the management API see new connections listed sooner.
    'collect_statistics_interval = 1000',
    '',
  ].join('\n');
}

export function startRabbitMq(ctx: StartContext): Promise<RabbitAccess> {
  return startRestartableRabbitMq(ctx).then((broker) => broker.access);
}

/** A broker that can be restarted in place: same node, ports and data (chaos tests). */
export interface RestartableBroker {
  access: RabbitAccess;
  /** Stops the node (its epmd stays) and boots it again, with its queues and messages. */
  restart(): Promise<void>;
}

export async function startRestartableRabbitMq(ctx: StartContext): Promise<RestartableBroker> {
  ensureRabbitMqInstalled();
  const dir = join(ctx.dataDir, 'rabbitmq');
  mkdirSync(join(dir, 'mnesia'), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_management,rabbitmq_prometheus].\n');
  // Mnesia keeps its data under the node's name: kept data needs the same name again.
  const nameFile = join(dir, 'node-name');
  const nodeName =
    ctx.persistent && existsSync(nameFile)
      ? readFileSync(nameFile, 'utf8').trim()
      : `gorten-${randomBytes(4).toString('hex')}@localhost`;
  if (ctx.persistent) writeFileSync(nameFile, nodeName);
  const identity = brokerIdentity();
  if (identity) {
    chmodSync(ctx.dataDir, 0o711); // mkdtemp made it 0700: let the broker's user pass through
    assertReachable(ctx.dataDir, identity);
  }
  const broker = await withFreePorts(
    ctx,
    ['amqp', 'dist', 'management', 'prometheus', 'epmd'],
    async (ports, ctx) => {
      const run = { dir, nodeName, identity, ports };
      await startEpmd(ctx, run);
      return { run, ctx, node: await startNode(ctx, run) };
    },
  );
  return {
    access: broker.node.access,
    async restart() {
      await stopServer(broker.node.pid);
      broker.node = await startNode(broker.ctx, broker.run);
    },
  };
}

interface BrokerRun {
  dir: string;
  nodeName: string;
  identity: { uid: number; gid: number } | undefined;
  ports: { amqp: number; dist: number; management: number; prometheus: number; epmd: number };
}

// Our own epmd in the foreground: recorded and stopped like every other server (one that
// erl spawned itself would daemonize and outlive the environment).
async function startEpmd(ctx: StartContext, run: BrokerRun): Promise<void> {
  const { identity, ports } = run;
  const epmdLog = join(ctx.logDir, 'epmd.log');
  const epmdPid = startServer({
    name: 'epmd',
    command: 'epmd',
    args: ['-address', '127.0.0.1', '-port', String(ports.epmd)],
    logFile: epmdLog,
    ...identity,
  });
  ctx.record({ name: 'epmd', pid: epmdPid, match: 'epmd' });
  await eventually(
    { what: `epmd on ${ports.epmd}`, timeoutMs: 10_000, pid: epmdPid, logFile: epmdLog },
    () => tcpOpen(ports.epmd),
  );
}

interface RunningNode {
  pid: number;
  access: RabbitAccess;
}

async function startNode(ctx: StartContext, run: BrokerRun): Promise<RunningNode> {
  const { dir, nodeName, identity, ports } = run;
  writeFileSync(join(dir, 'rabbitmq.conf'), brokerConfig(ports));
  // Our own (empty) env file: the machine's /etc/rabbitmq/rabbitmq-env.conf is not ours.
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const logFile = join(ctx.logDir, 'rabbitmq.log');
  writeFileSync(logFile, '');
  if (identity) chownTree(dir, identity.uid, identity.gid);
  if (identity) chownSync(logFile, identity.uid, identity.gid);
  const pid = startServer({
    name: 'rabbitmq',
    command: SERVER_SCRIPT,
    args: [],
    logFile,
    cwd: dir,
    ...identity,
    env: {
      PATH: process.env.PATH,
      HOME: dir, // the Erlang cookie is written here
      LANG: 'C.UTF-8',
      ERL_EPMD_PORT: String(ports.epmd),
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      // The start script checks the AMQP and distribution ports from these before boot.
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(ports.amqp),
      RABBITMQ_DIST_PORT: String(ports.dist),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: dir,
      RABBITMQ_LOGS: '-',
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
      RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    },
  });
  ctx.record({ name: 'rabbitmq', pid, match: 'rabbitmq' });

  const managementUrl = `http://127.0.0.1:${ports.management}`;
  const [user, password] = ['guest', 'guest']; // RabbitMQ's default admin, limited to loopback
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const overview = await eventually(
    { what: 'RabbitMQ management API /api/overview', timeoutMs: 90_000, pid, logFile },
    async () =>
      JSON.parse(
        (await okBody(`${managementUrl}/api/overview`, { headers: { authorization: auth } })) ??
          '{}',
      ) as { rabbitmq_version: string },
  );
  await eventually(
    { what: `RabbitMQ AMQP listener on ${ports.amqp}`, timeoutMs: 30_000, pid, logFile },
    () => tcpOpen(ports.amqp),
  );
  const prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
  await eventually(
    { what: 'RabbitMQ Prometheus endpoint /metrics', timeoutMs: 30_000, pid, logFile },
    () => okBody(`${prometheusUrl}/metrics`),
  );
  return {
    pid,
    access: {
      amqpUrl: `amqp://${user}:${password}@127.0.0.1:${ports.amqp}`,
      managementUrl,
      prometheusUrl,
      user,
      password,
      nodeName,
      epmdPort: ports.epmd,
      version: overview.rabbitmq_version,
    },
  };
}
