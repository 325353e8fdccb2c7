import { LogFormatter, LogItem, Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { StructuredLog } from '../functions/execute-comfyui-workflow/ports.js';
import type { WorkerConfig } from './config.js';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level: WorkerConfig['logLevel'];
  workerId?: string;
  /** LOG_FORMAT; unset means pretty on a terminal, JSON otherwise (containers, pipes, files). */
  format?: LogFormat;
  /** Whether stdout is a terminal (process.stdout.isTTY). */
  terminal?: boolean;
}

/**
 * Structured logs: Powertools' JSON lines for machines, or one readable line per event for people.
 * Per-task keys (taskRunId, wfRunId, promptId) are added by `withKeys`.
 */
export function createLogger({ level, workerId, format, terminal = false }: LoggerOptions): Logger {
  const options = { serviceName: 'comfyui-worker', logLevel: level, persistentKeys: workerId ? { workerId } : {} };
  if ((format ?? (terminal ? 'pretty' : 'json')) === 'json') return new Logger(options);
  return new LineLogger({ ...options, logFormatter: new PrettyLogFormatter({ color: terminal && !process.env.NO_COLOR }) });
}

const LEVEL_COLORS: Record<string, string> = { DEBUG: '\x1b[90m', INFO: '\x1b[36m', WARN: '\x1b[33m', ERROR: '\x1b[31m', CRITICAL: '\x1b[31m' };
/** Keys on every record that say nothing about the event itself. */
const CONSTANT_KEYS = new Set(['service', 'workerId', 'timestamp', 'level', 'message']);
const LONGEST_VALUE = 200;

/**
 * Powertools' log formatter extension point, for people: a record keeps the event's own keys
 * (the constant ones, service and workerId, are left out), and `line` renders it as
 * `12:04:05.123 INFO  worker ready  taskName=execute-comfyui-workflow hosts=1`.
 */
export class PrettyLogFormatter extends LogFormatter {
  private readonly color: boolean;

  constructor({ color }: { color: boolean }) {
    super();
    this.color = color;
  }

  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new LogItem({ attributes: { timestamp: attributes.timestamp.toISOString(), level: attributes.logLevel, message: attributes.message } }).addAttributes(additional);
  }

  line(attributes: LogAttributes): string {
    const at = new Date(String(attributes.timestamp));
    const time = `${at.toTimeString().slice(0, 8)}${at.toISOString().slice(19, 23)}`;
    const level = String(attributes.level).padEnd(5);
    const keys = Object.entries(attributes)
      .filter(([key, value]) => !CONSTANT_KEYS.has(key) && value !== undefined)
      .map(([key, value]) => `${key}=${this.value(value)}`);
    const painted = this.color ? `${LEVEL_COLORS[String(attributes.level)] ?? ''}${level}\x1b[0m` : level;
    const line = `${time} ${painted} ${String(attributes.message)}${keys.length > 0 ? `  ${keys.join(' ')}` : ''}`;
    return line.replaceAll('\n', ' ');
  }

  private value(value: unknown): string {
    const text =
      typeof value === 'string'
        ? /^[^\s"'=]*$/.test(value) ? value : JSON.stringify(value)
        : isFormattedError(value)
          ? `${value.name}: ${value.message}${value.location ? ` (${value.location})` : ''}`
          : (JSON.stringify(value) ?? String(value));
    return text.length > LONGEST_VALUE ? `${text.slice(0, LONGEST_VALUE)}…` : text;
  }
}

const isFormattedError = (value: unknown): value is { name: string; message: string; location?: string } =>
  typeof value === 'object' && value !== null && 'name' in value && 'message' in value && 'stack' in value;

/**
 * Powertools prints every record with JSON.stringify; this Logger prints the pretty formatter's
 * lines instead, on the same streams (DEBUG and INFO on stdout, WARN and ERROR on stderr).
 */
class LineLogger extends Logger {
  private readonly formatter: PrettyLogFormatter | undefined;

  constructor(options: ConstructorParameters<typeof Logger>[0] & { logFormatter: PrettyLogFormatter }) {
    super(options);
    this.formatter = options.logFormatter;
  }

  protected override printLog(level: number, log: LogItem): void {
    // Anything Powertools' own constructor prints comes before the formatter is set.
    if (!this.formatter) return super.printLog(level, log);
    log.prepareForPrint();
    // Errors in extra keys become the plain objects the JSON output shows.
    const attributes = JSON.parse(JSON.stringify(log.getAttributes(), this.getJsonReplacer())) as LogAttributes;
    const stream = level >= LogLevelThreshold.WARN ? process.stderr : process.stdout;
    stream.write(`${this.formatter.line(attributes)}\n`);
  }
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
