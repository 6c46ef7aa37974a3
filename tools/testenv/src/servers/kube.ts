// The Kubernetes control plane: kube-apiserver on etcd, with kube-controller-manager
// (namespace deletion, garbage collection, Deployments) and kube-scheduler.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { withFreePorts } from '../ports.js';
import { startServer, eventually } from '../process.js';
import { http, okBody } from '../http.js';
import type { StartContext } from './context.js';

export interface KubeAccess {
  kubeconfig: string;
  server: string;
  token: string;
  caFile: string;
}

/** A JSON request to the apiserver as the admin; throws on a non-2xx answer. */
export async function kubeApi(
  kube: KubeAccess,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<unknown> {
  const answer = await http(`${kube.server}${path}`, {
    method,
    ca: readFileSync(kube.caFile, 'utf8'),
    headers: { authorization: `Bearer ${kube.token}`, 'content-type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status < 200 || answer.status >= 300) {
    throw new Error(`${method} ${path}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  return JSON.parse(answer.body) as unknown;
}

function writeKubeconfig(file: string, server: string, caFile: string, token: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'gorten-test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'gorten-test', context: { cluster: 'gorten-test', user: 'admin' } }],
    'current-context': 'gorten-test',
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
}

export interface ApiserverOptions {
  /**
   * False: watches are served by etcd itself, not the apiserver's watch cache (which keeps
   * its own window of history), so one resuming from a compacted version gets 410 Gone.
   */
  watchCache?: boolean;
}

export async function startKubeApiserver(
  ctx: StartContext,
  etcdUrl: string,
  options: ApiserverOptions = {},
): Promise<KubeAccess> {
  const dir = join(ctx.dataDir, 'kube');
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  const saKey = join(dir, 'sa.key');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`, {
    mode: 0o600,
  });

  return withFreePorts(ctx, ['port'], ({ port }, ctx) =>
    runKubeApiserver(ctx, port, { dir, certDir, saKey, token, etcdUrl }, options),
  );
}

async function runKubeApiserver(
  ctx: StartContext,
  port: number,
  files: { dir: string; certDir: string; saKey: string; token: string; etcdUrl: string },
  options: ApiserverOptions,
): Promise<KubeAccess> {
  const { dir, certDir, saKey, token, etcdUrl } = files;
  const server = `https://127.0.0.1:${port}`;
  const logFile = join(ctx.logDir, 'kube-apiserver.log');
  const command = ctx.binary('kube-apiserver');
  const pid = startServer({
    name: 'kube-apiserver',
    command,
    logFile,
    args: [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${certDir}`,
      `--secure-port=${port}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // Room for thousands of Services: the benchmark runs hundreds of tenants of 8 each.
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      // Pods need no ServiceAccount token: no kubelet mounts one here.
      '--disable-admission-plugins=ServiceAccount',
      ...(options.watchCache === false ? ['--watch-cache=false'] : []),
      '--v=1',
    ],
  });
  ctx.record({ name: 'kube-apiserver', pid, match: command });
  const caFile = join(certDir, 'apiserver.crt');
  await eventually(
    { what: 'kube-apiserver /readyz', timeoutMs: 90_000, pid, logFile },
    async () => {
      if (!existsSync(caFile)) throw new Error(`${caFile} not written yet`);
      return okBody(`${server}/readyz`, {
        ca: readFileSync(caFile, 'utf8'),
        headers: { authorization: `Bearer ${token}` },
      });
    },
  );
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, server, caFile, token);
  return { kubeconfig, server, token, caFile };
}

/** Applies CustomResourceDefinitions from a multi-document YAML file and waits until served. */
export async function installCrdFile(kube: KubeAccess, file: string): Promise<string[]> {
  const crds = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as { metadata?: { name?: string } } | null)
    .filter((d): d is { metadata: { name: string } } => typeof d?.metadata?.name === 'string');
  for (const crd of crds) {
    await kubeApi(
      kube,
      'PATCH',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}?fieldManager=gorten-testenv&force=true`,
      crd,
      'application/apply-patch+yaml',
    );
  }
  for (const crd of crds) {
    await eventually(
      { what: `CRD ${crd.metadata.name} Established`, timeoutMs: 30_000 },
      async () => {
        const live = (await kubeApi(
          kube,
          'GET',
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        )) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
          ? true
          : undefined;
      },
    );
  }
  return crds.map((c) => c.metadata.name);
}

/** Starts a control-plane component that serves /healthz on its own secure port. */
function startComponent(
  ctx: StartContext,
  name: 'kube-controller-manager' | 'kube-scheduler',
  kube: KubeAccess,
  extraArgs: string[],
): Promise<void> {
  return withFreePorts(ctx, ['port'], ({ port }, ctx) =>
    runComponent(ctx, port, name, kube, extraArgs),
  );
}

async function runComponent(
  ctx: StartContext,
  port: number,
  name: 'kube-controller-manager' | 'kube-scheduler',
  kube: KubeAccess,
  extraArgs: string[],
): Promise<void> {
  const logFile = join(ctx.logDir, `${name}.log`);
  const command = ctx.binary(name);
  const pid = startServer({
    name,
    command,
    logFile,
    args: [
      `--kubeconfig=${kube.kubeconfig}`,
      `--authentication-kubeconfig=${kube.kubeconfig}`,
      `--authorization-kubeconfig=${kube.kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(ctx.dataDir, name)}`,
      '--leader-elect=false',
      ...extraArgs,
    ],
  });
  ctx.record({ name, pid, match: command });
  await eventually({ what: `${name} /healthz`, timeoutMs: 60_000, pid, logFile }, () =>
    okBody(`https://127.0.0.1:${port}/healthz`, { insecure: true }),
  );
}

/**
 * The client-side limits a real cluster sizes for its own API servers and nodes. Here they
 * are test artefacts: with the defaults (each controller's client 20 requests/s, burst 30;
 * 5 Deployment and 5 ReplicaSet workers) a tenant's 8 Deployments waited about 2 s in the
 * controller-manager's rate limiter (its rest_client_rate_limiter_duration_seconds), the
 * benchmark's floor measured that instead of the operator. The apiserver's own limits
 * (max-requests-inflight, priority and fairness) are left as they are: nothing waited
 * there (apiserver_flowcontrol_request_wait_duration_seconds stayed 0).
 */
const CLIENT_LIMITS = ['--kube-api-qps=1000', '--kube-api-burst=2000'];

export async function startControllerManager(ctx: StartContext, kube: KubeAccess): Promise<void> {
  await startComponent(ctx, 'kube-controller-manager', kube, [
    `--service-account-private-key-file=${join(ctx.dataDir, 'kube', 'sa.key')}`,
    `--root-ca-file=${kube.caFile}`,
    '--use-service-account-credentials=false',
    '--controllers=*',
    ...CLIENT_LIMITS,
    // Hundreds of tenants' rollouts at once: 5 workers each kept Deployments queued.
    '--concurrent-deployment-syncs=20',
    '--concurrent-replicaset-syncs=20',
  ]);
}

export async function startScheduler(ctx: StartContext, kube: KubeAccess): Promise<void> {
  // Its defaults (50 requests/s, burst 100; a bind and an Event per pod) would be the
  // next limit once the controller-manager's is raised.
  await startComponent(ctx, 'kube-scheduler', kube, CLIENT_LIMITS);
}
