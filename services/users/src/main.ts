import { runMain } from '@gorten/kit';
import { usersService } from './app.js';

runMain(usersService);
