import { createHash } from 'node:crypto';

/** A seed input with no bounds of its own: every whole number JavaScript and LittleHorse's INT both hold exactly. */
export const SEED_MIN = 0;
export const SEED_MAX = Number.MAX_SAFE_INTEGER;

/**
 * A seed derived from the TaskRun's idempotency key and the input's name: the same for every attempt
 * of a TaskRun (so a retry submits the same graph and may attach to the earlier prompt), different
 * across TaskRuns and across the seed inputs of one template. Uniform over [min, max].
 */
export function derivedSeed(idempotencyKey: string, inputName: string, min = SEED_MIN, max = SEED_MAX): number {
  // ComfyUI's own seed bounds reach 2^64 - 1: stay where the value is exact.
  const low = BigInt(Math.ceil(Math.max(min, -SEED_MAX)));
  const span = BigInt(Math.floor(Math.min(max, SEED_MAX))) - low + 1n;
  const hash = createHash('sha256').update(`comfyui-worker:seed:${idempotencyKey}:${inputName}`).digest();
  return Number(low + (hash.readBigUInt64BE(0) % span));
}
