// Entry of the services image: `node dist/services.mjs <service>` starts that one service.
// Each service is imported only when chosen, so its module (and its chunk of the bundle)
// is the only one evaluated.
import { SERVICE_NAMES, type ServiceName } from '@gorten/operator';

// A Record over ServiceName: a service added to SERVICE_NAMES does not compile without its entry.
const MAINS: Record<ServiceName, () => Promise<unknown>> = {
  users: () => import('../../services/users/src/main.js'),
  companies: () => import('../../services/companies/src/main.js'),
  catalog: () => import('../../services/catalog/src/main.js'),
  carts: () => import('../../services/carts/src/main.js'),
  orders: () => import('../../services/orders/src/main.js'),
  payments: () => import('../../services/payments/src/main.js'),
  checkout: () => import('../../services/checkout/src/main.js'),
  notifications: () => import('../../services/notifications/src/main.js'),
};

/** Exit status of a wrong invocation (as shells and getopt use it). */
const USAGE = 2;

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: node dist/services.mjs <service>\n  services: ${SERVICE_NAMES.join(', ')}\n`,
  );
  process.exit(USAGE);
}

function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}

const name = process.argv[2];
if (name === undefined) usage('no service named');
if (!isServiceName(name)) usage(`unknown service ${JSON.stringify(name)}`);
// The operator sets SERVICE too; `docker run <image> catalog` need not.
process.env.SERVICE ??= name;
if (process.env.SERVICE !== name)
  usage(`SERVICE=${process.env.SERVICE} contradicts the argument ${name}`);
await MAINS[name]();
