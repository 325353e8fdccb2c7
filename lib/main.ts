import type { Logger } from '@aws-lambda-powertools/logger';
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
    const problems = built.problems.map((p) => `  - ${p}\n`).join('');
    process.stderr.write(`comfyui-worker: configuration error; exiting with code ${ExitCode.CONFIG}\n${problems}`);
    return ExitCode.CONFIG;
  }
  const { runner, logger, close } = built.worker;
  logNodeWarnings(logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      stopped(logger, ExitCode.FORCED, { signal });
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
    setTimeout(() => {
      stopped(logger, ExitCode.CRASH, { reason: 'the shutdown did not end in time after an uncaught error' });
      process.exit(ExitCode.CRASH);
    }, limitMs).unref();
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  let code: ExitCode;
  try {
    code = await runner.run();
  } catch (error) {
    logger.error('unexpected error', error as Error);
    code = ExitCode.CRASH;
  } finally {
    close();
  }
  stopped(logger, code);
  return code;
}

/** The last line: the worker stopped, with its exit code and that code's name (see exit-codes.ts). */
function stopped(logger: Logger, exitCode: ExitCode, extra: Record<string, unknown> = {}): void {
  const keys = { event: 'worker-stopped', exitCode, exit: Object.entries(ExitCode).find(([, value]) => value === exitCode)?.[0], ...extra };
  if (exitCode === ExitCode.OK) logger.info('worker stopped', keys);
  else if (exitCode === ExitCode.FORCED) logger.warn('worker stopped at once (second signal)', keys);
  else logger.error('worker stopped', keys);
}

/**
 * Node prints its own warnings as plain text on stderr, in the middle of the log stream: they become
 * log records instead. DEP0123 comes from grpc-js, which passes an IP address given as LHC_API_HOST
 * to TLS as the server name (SNI); the certificate is still checked against that address.
 */
function logNodeWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const extra = { warning: warning.name, code: warning.code };
    if (warning.code === 'DEP0123') logger.debug(`Node.js: ${warning.message}`, extra);
    else logger.warn(`Node.js: ${warning.message}`, extra);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`comfyui-worker: ${String(error)}\n`);
    process.exit(ExitCode.CRASH);
  },
);
