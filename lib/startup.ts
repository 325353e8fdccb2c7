import type { Clock, StructuredLog } from '../functions/execute-comfyui-workflow/ports.js';
import type { ExitCode } from './exit-codes.js';

/** What a failed try at a dependency means. */
export interface Diagnosis {
  /** The problem in words, with what to check. */
  problem: string;
  /** Set when trying again cannot help: the worker exits at once with this code. */
  fatal?: ExitCode;
}

/** Something the worker needs before it takes work: ComfyUI answering, LittleHorse accepting it. */
export interface Dependency {
  /** "ComfyUI", "LittleHorse". */
  name: string;
  address: string;
  /** One try; resolves once the dependency is usable. */
  attempt(signal: AbortSignal): Promise<void>;
  diagnose(error: unknown): Diagnosis;
  /** How long to keep trying, and what to say and exit with when that runs out. */
  timeoutMs: number;
  /** `setting`: the variable that sets timeoutMs, if one does. */
  timeout: { exitCode: ExitCode; setting?: string };
  retryDelayMs(tries: number): number;
}

export type StartupResult = { ready: true } | { ready: false; exitCode?: ExitCode };

export interface StartupOptions {
  logger: StructuredLog & { error(message: string, ...extra: Record<string, unknown>[]): void };
  clock: Clock;
  /** Aborted when the worker is asked to stop: start-up ends without an exit code of its own. */
  signal: AbortSignal;
  /** While a dependency keeps failing the same way, how often to say so again. */
  reportEveryMs: number;
}

type Waited = { ready: true } | { ready: false; exitCode?: ExitCode };

/**
 * Waits for every dependency at once, so that one start says what is wrong with each. Per dependency:
 * the first failure is logged, then the same problem again only every `reportEveryMs` (a new problem
 * at once). A problem no retry can fix, or a dependency out of time, ends the wait for all of them,
 * naming what the others were still waiting for.
 */
export async function waitForDependencies(dependencies: Dependency[], options: StartupOptions): Promise<StartupResult> {
  const giveUp = new AbortController();
  const signal = AbortSignal.any([options.signal, giveUp.signal]);
  /** The last problem of each dependency still failing. */
  const failing = new Map<Dependency, string>();
  const results = await Promise.all(
    dependencies.map(async (dependency) => {
      const waited = await waitFor(dependency, { ...options, signal }, (problem) => failing.set(dependency, problem));
      if (waited.ready) failing.delete(dependency);
      else giveUp.abort();
      return waited;
    }),
  );
  if (options.signal.aborted) return { ready: false };
  const failed = results.findIndex((r) => !r.ready && r.exitCode !== undefined);
  if (failed < 0) return { ready: true };
  for (const [dependency, problem] of failing) {
    if (dependency === dependencies[failed]) continue;
    const { name, address } = dependency;
    options.logger.error(`${name} at ${address} was not ready either: ${problem}`, { dependency: name, address });
  }
  return { ready: false, exitCode: (results[failed] as { exitCode: ExitCode }).exitCode };
}

async function waitFor(dependency: Dependency, options: StartupOptions, onProblem: (problem: string) => void): Promise<Waited> {
  const { logger, clock, signal } = options;
  const { name, address } = dependency;
  const keys = { dependency: name, address };
  const started = clock.now();
  let tries = 0;
  let said: { problem: string; at: number } | undefined;
  for (;;) {
    if (signal.aborted) return { ready: false };
    try {
      await dependency.attempt(signal);
      if (tries > 0) logger.info(`${name} at ${address} is ready`, { event: 'dependency-ready', ...keys, tries: tries + 1, waitedMs: clock.now() - started });
      return { ready: true };
    } catch (error) {
      if (signal.aborted) return { ready: false };
      tries++;
      const { problem, fatal } = dependency.diagnose(error);
      onProblem(problem);
      const waitedMs = clock.now() - started;
      if (fatal !== undefined) {
        logger.error(`${name} at ${address} refused the worker: ${problem}`, { event: 'dependency-refused', ...keys, exitCode: fatal });
        return { ready: false, exitCode: fatal };
      }
      if (waitedMs >= dependency.timeoutMs) {
        const { setting, exitCode } = dependency.timeout;
        logger.error(`${name} at ${address} was not ready within ${setting ? `${setting}=` : ''}${dependency.timeoutMs / 1000} s: ${problem}`, { event: 'dependency-gave-up', ...keys, tries, exitCode });
        return { ready: false, exitCode };
      }
      if (!said || said.problem !== problem || clock.now() - said.at >= options.reportEveryMs) {
        logger.info(`${said ? 'still ' : ''}waiting for ${name} at ${address}: ${problem}`, { event: 'dependency-waiting', ...keys, tries, waitedMs, timeoutMs: dependency.timeoutMs });
        said = { problem, at: clock.now() };
      }
    }
    await clock.sleep(dependency.retryDelayMs(tries), signal).catch(() => undefined);
  }
}
