// AWS Lambda entry of the alerts sync (template.yaml SyncFunction, on a schedule).
// The configuration is read at module load, so a bad one fails the function's
// init, loudly, naming the variable.
import { createSyncHandler, type SyncLambdaHandler } from './sync/lambda-handler.js';
import { loadSyncConfig } from './sync/index.js';

export const handler: SyncLambdaHandler = createSyncHandler(loadSyncConfig());
