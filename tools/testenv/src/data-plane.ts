// A private FerretDB and RabbitMQ for tests that break them on purpose (the chaos suite):
// pausing the database or restarting the broker must not disturb the shared environment
// every other test file uses at the same time. No Kubernetes: services run as processes.
import { signalGroup } from './pids.js';
import { privateServers } from './private-servers.js';
import { startFerretDb, type MongoAccess } from './servers/ferretdb.js';
import { startRestartableRabbitMq, type RabbitAccess } from './servers/rabbitmq.js';
import type { ServerProcess } from './state.js';

export interface DataPlane {
  mongo: MongoAccess;
  rabbitmq: RabbitAccess;
  logDir: string;
  /** Every server process started, in order (a restart adds one). */
  readonly processes: readonly ServerProcess[];
  /** SIGSTOP to FerretDB: connections stay open and every request hangs, as in a freeze. */
  pauseDatabase(): void;
  resumeDatabase(): void;
  /** A real restart of the broker node: every connection drops, durable queues stay. */
  restartBroker(): Promise<void>;
  /** Stops both servers (resuming a paused one first) and removes their data. */
  stop(): Promise<void>;
}

export async function startDataPlane(): Promise<DataPlane> {
  const { ctx, logDir, processes, stop: stopAll } = privateServers('dataplane');
  // A paused FerretDB is resumed first, or it would not stop.
  const stop = () => stopAll((pid) => signalGroup(pid, 'SIGCONT'));
  const started = await Promise.allSettled([startFerretDb(ctx), startRestartableRabbitMq(ctx)]);
  const [mongo, broker] = started;
  if (mongo.status === 'rejected' || broker.status === 'rejected') {
    await stop();
    throw new Error(
      started.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])).join('\n\n'),
    );
  }
  const ferretdb = (): number => {
    const proc = processes.find((p) => p.name === 'ferretdb');
    if (!proc) throw new Error('FerretDB was not started');
    return proc.pid;
  };
  return {
    mongo: mongo.value,
    rabbitmq: broker.value.access,
    logDir,
    processes,
    pauseDatabase: () => signalGroup(ferretdb(), 'SIGSTOP'),
    resumeDatabase: () => signalGroup(ferretdb(), 'SIGCONT'),
    restartBroker: () => broker.value.restart(),
    stop,
  };
}
