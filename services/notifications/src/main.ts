import { runMain } from '@gorten/kit';
import { notificationsService } from './app.js';

runMain(notificationsService);
