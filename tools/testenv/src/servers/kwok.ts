// kwok plays the kubelets: it keeps the simulated nodes Ready and moves the pods
// scheduled on them to Running/Ready, so Deployments report available replicas.
import { join } from 'node:path';
import { withFreePorts } from '../ports.js';
import { startServer, eventually } from '../process.js';
import { okBody } from '../http.js';
import { kubeApi, type KubeAccess } from './kube.js';
import type { StartContext } from './context.js';

const NODE_ANNOTATION = 'kwok.x-k8s.io/node';

function simulatedNode(name: string): object {
  // Roomy: the benchmark runs hundreds of tenants of 8 pods each on three simulated nodes.
  const capacity = { cpu: '512', memory: '2Ti', pods: '2000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    status: { capacity, allocatable: capacity },
  };
}

interface NodeList {
  items: {
    metadata: { name: string };
    status?: { conditions?: { type: string; status: string }[] };
  }[];
}

export async function startKwok(ctx: StartContext, kube: KubeAccess, nodes: number): Promise<void> {
  const logFile = join(ctx.logDir, 'kwok.log');
  const pid = await withFreePorts(ctx, ['port'], ({ port }, ctx) =>
    runKwok(ctx, port, kube, logFile),
  );
  await addNodes(ctx, kube, nodes, pid, logFile);
}

async function runKwok(
  ctx: StartContext,
  port: number,
  kube: KubeAccess,
  logFile: string,
): Promise<number> {
  const command = ctx.binary('kwok');
  const pid = startServer({
    name: 'kwok',
    command,
    logFile,
    args: [
      `--kubeconfig=${kube.kubeconfig}`,
      `--config=${ctx.binary('kwok-stages')}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${NODE_ANNOTATION}=fake`,
      '--cidr=10.0.1.0/24',
      '--node-ip=10.0.2.1',
      `--server-address=127.0.0.1:${port}`,
    ],
  });
  ctx.record({ name: 'kwok', pid, match: command });
  await eventually({ what: 'kwok /healthz', timeoutMs: 30_000, pid, logFile }, () =>
    okBody(`http://127.0.0.1:${port}/healthz`),
  );
  return pid;
}

async function addNodes(
  ctx: StartContext,
  kube: KubeAccess,
  nodes: number,
  pid: number,
  logFile: string,
): Promise<void> {
  // Kept data (npm start) still has the nodes of the last run: those are reused.
  const existing = ctx.persistent
    ? ((await kubeApi(kube, 'GET', '/api/v1/nodes')) as NodeList).items.map((n) => n.metadata.name)
    : [];
  for (let i = 0; i < nodes; i++) {
    if (existing.includes(`kwok-node-${i}`)) continue;
    await kubeApi(kube, 'POST', '/api/v1/nodes', simulatedNode(`kwok-node-${i}`));
  }
  await eventually(
    { what: `${nodes} simulated nodes Ready`, timeoutMs: 60_000, pid, logFile },
    async () => {
      const list = (await kubeApi(kube, 'GET', '/api/v1/nodes')) as NodeList;
      const ready = list.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      if (ready.length < nodes) throw new Error(`${ready.length} of ${nodes} nodes Ready`);
      return true;
    },
  );
}
