// `npm run redrive -- <tenant> <queue>…`: moves the messages in each work queue's
// dead-letter queue back into it, once each, for a tenant the operator provisioned — after
// the bug or the bad data that put them there is fixed. It connects as the tenant's own
// broker user, read from its Secret `rabbitmq-credentials` as the tenant's pods get it.
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, deadLetterQueueOf, redrive } from '@gorten/kit';
import { Kube, secretValue, tenantNames, tenantTopology } from '@gorten/operator';

export class RedriveRefused extends Error {
  override name = 'RedriveRefused';
}

export const USAGE = 'usage: npm run redrive -- <marketplace> <queue> [<queue> …]';

/** The tenant's work queues: those with a delivery limit, each with a dead-letter queue. */
export function workQueues(): string[] {
  return tenantTopology()
    .queues.filter((q) => 'x-delivery-limit' in q.arguments)
    .map((q) => q.name);
}

export function parseArgs(args: readonly string[]): { tenant: string; queues: string[] } {
  const [tenant, ...queues] = args;
  if (!tenant || queues.length === 0) throw new RedriveRefused(USAGE);
  const known = workQueues();
  const unknown = queues.filter((q) => !known.includes(q));
  if (unknown.length > 0)
    throw new RedriveRefused(
      `not a work queue: ${unknown.join(', ')} (the work queues are ${known.join(', ')})`,
    );
  return { tenant, queues };
}

/**
 * The tenant's AMQP URL from its Secret, through the cluster of the current kubeconfig
 * (KUBECONFIG, else ~/.kube/config, else in-cluster). The Secret names the broker as the
 * pods reach it; GORTEN_AMQP_HOST (host:port, e.g. a port-forward) replaces that.
 */
export async function tenantAmqpUrl(tenant: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { namespace, brokerSecret } = tenantNames(tenant);
  const config = new KubeConfig();
  config.loadFromDefault();
  const kube = new Kube(config);
  let secret;
  try {
    secret = await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: brokerSecret });
  } catch (err) {
    throw new RedriveRefused(
      `cannot read Secret ${brokerSecret} in namespace ${namespace} from ${kube.server} (${(err as Error).message}): set KUBECONFIG to the cluster the operator runs in`,
    );
  } finally {
    kube.close();
  }
  const uri = secretValue(secret, 'uri');
  if (!uri)
    throw new RedriveRefused(
      `no Secret ${brokerSecret} with a uri in namespace ${namespace}: is ${tenant} a Marketplace the operator provisioned?`,
    );
  if (!env.GORTEN_AMQP_HOST) return uri;
  const url = new URL(uri);
  url.host = env.GORTEN_AMQP_HOST;
  return url.toString();
}

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Re-drives each queue in turn and says how many moved; returns the exit status. */
export async function redriveTenant(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  { out, err: fail }: Output,
): Promise<number> {
  try {
    const { tenant, queues } = parseArgs(args);
    const url = await tenantAmqpUrl(tenant, env);
    const log = createLogger('redrive', 'warn', process.stderr);
    for (const queue of queues) {
      const moved = await redrive(url, queue, log);
      out(`${tenant}: moved ${moved} from ${deadLetterQueueOf(queue)} back to ${queue}`);
    }
    return 0;
  } catch (err) {
    // Never the URL: it holds the tenant's password.
    fail(`redrive: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
