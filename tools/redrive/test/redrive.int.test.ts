// `npm run redrive` against the real broker and kube-apiserver: the tenant's broker URL
// comes from its Secret as the operator writes it, every dead-lettered message of a work
// queue goes back once, and what it cannot do it refuses, saying why.
import { KubeConfig } from '@kubernetes/client-node';
import { Kube } from '@gorten/operator';
import { TestTenant } from '@gorten/service-testing';
import { loadTestEnv } from '@gorten/testenv';
import { redriveTenant, USAGE } from '../redrive.js';

let tenant: TestTenant;
let kube: Kube;
let namespace: string;

beforeAll(async () => {
  tenant = await TestTenant.create('redrive');
  const config = new KubeConfig();
  config.loadFromFile(loadTestEnv().kube.kubeconfig);
  kube = new Kube(config);
  // What the operator provisions for the tenant, as far as the tool reads it.
  namespace = `mp-${tenant.name}`;
  await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await kube.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'rabbitmq-credentials', namespace },
    stringData: { uri: tenant.amqpUrl },
  });
});

afterAll(async () => {
  await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  kube.close();
  await tenant.destroy();
});

async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await redriveTenant(args, process.env, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out, err };
}

test('moves every dead-lettered message of a queue back into it, once each, and says how many', async () => {
  const events = ['evt-1', 'evt-2'].map((id) => ({ id, type: 'order.paid', data: {} }));
  for (const event of events)
    await tenant.publish('', 'order_paid.dlq', Buffer.from(JSON.stringify(event)), event.id);

  expect(await run(tenant.name, 'order_paid')).toEqual({
    code: 0,
    out: [`${tenant.name}: moved 2 from order_paid.dlq back to order_paid`],
    err: [],
  });
  expect((await tenant.drain('order_paid')).map((m) => m.body)).toEqual(events);
  expect(await tenant.drain('order_paid.dlq')).toEqual([]);
  expect((await run(tenant.name, 'order_paid', 'email_notifications')).out).toEqual([
    `${tenant.name}: moved 0 from order_paid.dlq back to order_paid`,
    `${tenant.name}: moved 0 from email_notifications.dlq back to email_notifications`,
  ]);
});

test('refuses what it cannot do, saying why: no queue, a queue that is no work queue, a tenant not provisioned', async () => {
  expect(await run(tenant.name)).toEqual({ code: 1, out: [], err: [`redrive: ${USAGE}`] });
  const notWork = await run(tenant.name, 'order_paid.dlq');
  expect(notWork.code).toBe(1);
  expect(notWork.err[0]).toMatch(
    /^redrive: not a work queue: order_paid\.dlq \(the work queues are .*order_paid/,
  );
  const unknown = await run('no-such-marketplace', 'order_paid');
  expect(unknown.code).toBe(1);
  expect(unknown.err).toEqual([
    'redrive: no Secret rabbitmq-credentials with a uri in namespace mp-no-such-marketplace: is no-such-marketplace a Marketplace the operator provisioned?',
  ]);
});
