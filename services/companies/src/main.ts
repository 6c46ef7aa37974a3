import { runMain } from '@gorten/kit';
import { companiesService } from './app.js';

runMain(companiesService);
