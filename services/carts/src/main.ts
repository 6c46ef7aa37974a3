import { runMain } from '@gorten/kit';
import { cartsService } from './app.js';

runMain(cartsService);
