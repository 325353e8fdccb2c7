import { Logger } from '@aws-lambda-powertools/logger';
import type { WorkerConfig } from './config.js';

/** Structured JSON logs; per-task keys (taskRunId, wfRunId, promptId) are added by child loggers. */
export function createLogger(level: WorkerConfig['logLevel'], workerId?: string): Logger {
  return new Logger({
    serviceName: 'comfyui-worker',
    logLevel: level,
    persistentKeys: workerId ? { workerId } : {},
  });
}
