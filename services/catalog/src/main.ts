import { runMain } from '@gorten/kit';
import { catalogService } from './app.js';

runMain(catalogService);
