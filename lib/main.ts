import { ExitCode } from './exit-codes.js';
import { STOP_AND_REPORT_MS } from './shutdown-clock.js';
import { buildWorker } from './worker.js';

/**
 * `node dist/runner.js`: the process shell. Builds the worker from the environment, runs it, turns
 * SIGTERM/SIGINT into a graceful stop (a second signal exits at once) and exits with a documented code.
 */
async function main(): Promise<number> {
  const built = buildWorker(process.env);
  if (!built.ok) {
    process.stderr.write(`comfyui-worker: configuration error\n${built.problems.map((p) => `  - ${p}\n`).join('')}`);
    return ExitCode.CONFIG;
  }
  const { runner, logger, close } = built.worker;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn('second signal: exiting at once', { signal });
      process.exit(ExitCode.FORCED);
    }
    runner.stop(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A throw nobody caught (in a socket listener, an unawaited promise) would kill the process with a
  // task in hand, unreported: stop that task, report it, then exit 1 (runner.crash).
  const onUncaught = (error: unknown) => {
    logger.error('uncaught error; stopping the worker', { error: error instanceof Error ? error : new Error(String(error)) });
    runner.crash(error);
    // If the runner itself is what broke, do not hang past the shutdown window.
    const limitMs = built.worker.config.worker.shutdownGraceMs + STOP_AND_REPORT_MS + 1_000;
    setTimeout(() => process.exit(ExitCode.CRASH), limitMs).unref();
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    return await runner.run();
  } catch (error) {
    logger.error('unexpected error', error as Error);
    return ExitCode.CRASH;
  } finally {
    close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`comfyui-worker: ${String(error)}\n`);
    process.exit(ExitCode.CRASH);
  },
);
