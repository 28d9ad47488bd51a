// One scheduled invocation of the alerts sync on AWS Lambda: one run, as
// `spycloud-relay sync` does once. A run with errors fails the invocation (after
// its log line), so the function's Errors metric can raise an alarm; the run's
// counts are its result.
import { pino, type Logger } from 'pino';
import { createLogger } from '../log.js';
import { runSync, succeeded, type SyncConfig, type SyncDeps } from './index.js';
import { reportLogFields, reportProblems } from './report.js';

export type SyncLambdaHandler = () => Promise<ReturnType<typeof reportLogFields>>;

/** The error an invocation fails with: the run's problems, counts only. */
export class SyncRunFailed extends Error {
  constructor(problems: readonly string[]) {
    super(`The sync run had errors: ${problems.join(' ') || 'see its log line'}`);
    this.name = 'SyncRunFailed';
  }
}

export function createSyncHandler(config: SyncConfig, deps: SyncDeps = {}, logger?: Logger): SyncLambdaHandler {
  // Lambda may freeze the process right after an answer: write log lines synchronously.
  const log = logger ?? createLogger(config.relay.logLevel, pino.destination({ dest: 1, sync: true }));
  return async () => {
    const report = await runSync(config, deps);
    const fields = reportLogFields(report);
    if (succeeded(report)) {
      log.info(fields, 'sync run');
      return fields;
    }
    log.error(fields, 'sync run');
    throw new SyncRunFailed(reportProblems(report));
  };
}

