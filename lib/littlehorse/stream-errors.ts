import { ClientError, Status } from 'nice-grpc';

/** What to log when a PollTask stream breaks. */
export interface PollErrorLog {
  level: 'error' | 'warn';
  message: string;
  fields: Record<string, unknown>;
}

// grpc-js' stream decoder: "Received message larger than max (<size> vs <limit>)".
const TOO_LARGE = /Received message larger than max \((\d+) vs\.? (-?\d+)\)/;

/**
 * A PollTask stream that broke because a task's message exceeded the receive limit loses that task
 * silently (it stays claimed until LittleHorse times it out): say so loudly, with the fix. Any
 * other break is the usual reconnect.
 */
export function describePollError(error: unknown, limit: number): PollErrorLog {
  const details = error instanceof ClientError ? error.details : error instanceof Error ? error.message : String(error);
  const tooLarge = error instanceof ClientError && error.code === Status.RESOURCE_EXHAUSTED ? TOO_LARGE.exec(details) : null;
  if (tooLarge) {
    const size = Number(tooLarge[1]);
    return {
      level: 'error',
      message: `a task from LittleHorse is larger than LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH (${size} > ${limit} bytes) and was dropped; it will time out on LittleHorse. Raise LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH (or -1 for no limit)`,
      fields: { messageBytes: size, limitBytes: limit, variable: 'LHC_GRPC_MAX_RECEIVE_MESSAGE_LENGTH' },
    };
  }
  return { level: 'warn', message: 'PollTask stream broke; reconnecting', fields: { error: details } };
}
