/**
 * After the grace period, the time left to stop the prompt on ComfyUI and deliver the report. The
 * whole shutdown fits in LHW_SHUTDOWN_GRACE_SEC + this, which the deploy manifests keep inside the
 * platform's stop window (Cloud Run: 10 s; ECS: stopTimeout).
 */
export const STOP_AND_REPORT_MS = 2_000;
/** Of that window, what the report always keeps for itself. */
const REPORT_RESERVE_MS = 1_000;

/**
 * One deadline for the whole shutdown, from the signal on: grace for the task, then cleanup on
 * ComfyUI and the report share what is left, so nothing (a hung ComfyUI, a slow LittleHorse) can
 * push the report past the platform's window.
 */
export class ShutdownClock {
  private stoppedAt: number | undefined;

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stoppedAt ??= this.now();
  }

  get started(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Ms until the shutdown must be over; Infinity while the worker is not stopping. */
  remainingMs(): number {
    return this.stoppedAt === undefined ? Infinity : this.stoppedAt + this.graceMs + STOP_AND_REPORT_MS - this.now();
  }

  /** How long a report may keep retrying: what is left of the window, never less than a last try. */
  reportBudgetMs(): number {
    return Math.max(500, Math.min(this.remainingMs(), 30_000));
  }

  /** How long stopping the prompt on ComfyUI may take, leaving the report its share. */
  cleanupBudgetMs(usualMs: number): number {
    return Math.max(0, Math.min(usualMs, this.remainingMs() - REPORT_RESERVE_MS));
  }
}
