import { runMain } from '@gorten/kit';
import { checkoutService } from './app.js';

runMain(checkoutService);
