/** Process exit codes, documented in the README so a scheduler's retry policy can tell them apart. */
export const ExitCode = {
  /** Stopped as asked (signal, idle, task or runtime limit); every task taken was reported. */
  OK: 0,
  /** An unexpected error: a bug, or the environment broke in a way nobody planned for. */
  CRASH: 1,
  /** The environment is wrong: the message names each variable and what it expects. */
  CONFIG: 2,
  /** LittleHorse could not be reached (or refused us) at start-up. */
  LITTLEHORSE_UNREACHABLE: 3,
  /** ComfyUI did not answer within COMFYUI_START_TIMEOUT_SEC. */
  COMFYUI_NOT_READY: 4,
  /** The TaskDef exists with a shape this worker cannot serve. */
  TASKDEF_MISMATCH: 5,
  /** Stopped, but at least one report never reached LittleHorse (its TaskRun will time out there). */
  REPORT_UNDELIVERED: 6,
  /** A template cannot run on this ComfyUI (GET /object_info): a node class, input, model or value it needs is missing. */
  TEMPLATE_REFUSED: 7,
  /** A second SIGTERM/SIGINT: exited at once, without waiting for the task in hand. */
  FORCED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
