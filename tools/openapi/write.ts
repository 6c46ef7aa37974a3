// `npm run openapi`: regenerates services/<name>/openapi.json from the routes. The
// services' tests fail while a checked-in document differs from what the code declares.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiFor } from '@gorten/kit';
import { cartsService } from '@gorten/carts';
import { catalogService } from '@gorten/catalog';
import { checkoutService } from '@gorten/checkout';
import { companiesService } from '@gorten/companies';
import { notificationsService } from '@gorten/notifications';
import { ordersService } from '@gorten/orders';
import { paymentsService } from '@gorten/payments';
import { usersService } from '@gorten/users';

const SERVICES = {
  users: usersService,
  companies: companiesService,
  catalog: catalogService,
  carts: cartsService,
  orders: ordersService,
  payments: paymentsService,
  checkout: checkoutService,
  notifications: notificationsService,
};

for (const [name, definition] of Object.entries(SERVICES)) {
  const file = join(import.meta.dirname, '..', '..', 'services', name, 'openapi.json');
  writeFileSync(file, `${JSON.stringify(openApiFor(definition), null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
}
