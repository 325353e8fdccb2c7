import { Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { StructuredLog } from '../functions/execute-comfyui-workflow/ports.js';
import type { WorkerConfig } from './config.js';

/** Structured JSON logs; per-task keys (taskRunId, wfRunId, promptId) are added by `withKeys`. */
export function createLogger(level: WorkerConfig['logLevel'], workerId?: string): Logger {
  return new Logger({
    serviceName: 'comfyui-worker',
    logLevel: level,
    persistentKeys: workerId ? { workerId } : {},
  });
}

export interface TaskLogger extends StructuredLog {
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/**
 * The logger with a task's keys on every line. Not Powertools' createChild: that builds a whole
 * new Logger per task (re-reading the environment), a measurable share of the per-task overhead.
 */
export function withKeys(logger: Logger, keys: Record<string, unknown>): TaskLogger {
  return {
    // Powertools builds most of a log item (reading the environment) before it checks the level.
    debug: (message, ...extra) => {
      if (logger.level <= LogLevelThreshold.DEBUG) logger.debug(message, keys, ...extra);
    },
    info: (message, ...extra) => logger.info(message, keys, ...extra),
    warn: (message, ...extra) => logger.warn(message, keys, ...extra),
    error: (message, ...extra) => logger.error(message, keys, ...extra),
  };
}
