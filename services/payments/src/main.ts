import { runMain } from '@gorten/kit';
import { paymentsService } from './app.js';

runMain(paymentsService);
