// The companies service as the kit starts it: the common environment, its collections
// and routes. No I/O here; startService does that.
import { serviceEnv, type ServiceDefinition, type ServiceEnv } from '@gorten/kit';
import type { CompaniesDeps } from './deps.js';
import { COMPANIES_ROUTES } from './routes.js';
import { COMPANIES_INDEXES, companiesStore } from './store.js';

export const companiesService: ServiceDefinition<ServiceEnv, CompaniesDeps> = {
  info: {
    title: 'Gorten companies',
    version: '0.1.0',
    description:
      'The sellers of one marketplace: the public directory, company administration, and who acts for which company.',
  },
  env: serviceEnv,
  indexes: COMPANIES_INDEXES,
  routes: COMPANIES_ROUTES,
  deps: ({ db }) => ({ store: companiesStore(db), now: () => new Date() }),
};
