import { runMain } from '@gorten/kit';
import { ordersService } from './app.js';

runMain(ordersService);
