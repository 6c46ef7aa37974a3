// What the companies service's use cases work with; built once at start (app.ts).
import type { CompaniesStore } from './store.js';

export interface CompaniesDeps {
  store: CompaniesStore;
  now: () => Date;
}
