/** How long the benchmark waits for any one thing before it gives up (a run that cannot complete). */
const WAIT_MS = 60_000;

/** The promise, or a rejection naming what the benchmark was waiting for once `ms` have passed. */
export async function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`benchmark gave up waiting ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
