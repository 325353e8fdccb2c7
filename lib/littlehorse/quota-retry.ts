import { type CallOptions, ClientError, type ClientMiddlewareCall, type Metadata, Status } from 'nice-grpc';
import protobuf from 'protobufjs/minimal.js';
import { sleep } from '../backoff.js';

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/** Calls in all, the first included. */
const MAX_ATTEMPTS = 5;
/** Give up rather than wait longer than this in all. */
const MAX_TOTAL_DELAY_MS = 30_000;

/**
 * LittleHorse ≥ 1.1 answers a request over its quota with RESOURCE_EXHAUSTED and a RetryInfo saying
 * when to come back (SRV/server/quotas/RequestQuotaManager.java). Like LittleHorse's SDKs
 * (sdk-python client_interceptors.py, Java ResourceExhaustedRetryInterceptor), this sleeps that
 * delay and calls again — for unary calls only: the server never throttles the PollTask stream, and a
 * stream cannot be replayed. Bounded in attempts and total wait, and stops waiting when the call's
 * signal aborts. Without RetryInfo it does not retry, as the SDKs do not: grpc-js raises the same code
 * for a message over its size limit, which no retry fixes.
 */
export function quotaRetry() {
  return async function* quotaRetryMiddleware<Req, Res>(call: ClientMiddlewareCall<Req, Res>, callOptions: CallOptions) {
    if (call.requestStream || call.responseStream) return yield* call.next(call.request, callOptions);
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      let trailer: Metadata | undefined;
      try {
        return yield* call.next(call.request, {
          ...callOptions,
          onTrailer: (received) => {
            trailer = received;
            callOptions.onTrailer?.(received);
          },
        });
      } catch (error) {
        if (!(error instanceof ClientError) || error.code !== Status.RESOURCE_EXHAUSTED) throw error;
        const details = trailer?.get('grpc-status-details-bin');
        const delay = details && retryDelayMs(details);
        if (delay === undefined || attempt >= MAX_ATTEMPTS || waited + delay > MAX_TOTAL_DELAY_MS) throw error;
        // An abort during the wait ends the call with the quota error, the true cause.
        await sleep(delay, callOptions.signal).catch(() => {
          throw error;
        });
        waited += delay;
      }
    }
  };
}

/**
 * The delay of the google.rpc.RetryInfo inside a google.rpc.Status (the `grpc-status-details-bin`
 * trailer), in milliseconds; undefined when there is none, it is not positive, or the bytes do not decode.
 * Status{details = 3: repeated Any}, Any{type_url = 1, value = 2}, RetryInfo{retry_delay = 1: Duration},
 * Duration{seconds = 1: int64, nanos = 2: int32}.
 */
function retryDelayMs(statusDetails: Uint8Array): number | undefined {
  try {
    for (const any of fieldsOf(statusDetails, 3)) {
      const [typeUrl] = fieldsOf(any, 1);
      const [value] = fieldsOf(any, 2);
      if (!typeUrl || !value || new TextDecoder().decode(typeUrl) !== RETRY_INFO_TYPE) continue;
      const [duration] = fieldsOf(value, 1);
      if (!duration) return undefined;
      const ms = durationMs(duration);
      return ms > 0 ? ms : undefined;
    }
  } catch {
    // Not a google.rpc.Status: behave as if no RetryInfo came.
  }
  return undefined;
}

/** The raw bytes of every length-delimited occurrence of one field. */
function fieldsOf(message: Uint8Array, field: number): Uint8Array[] {
  const reader = protobuf.Reader.create(message);
  const found: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === field && (tag & 7) === 2) found.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return found;
}

function durationMs(duration: Uint8Array): number {
  const reader = protobuf.Reader.create(duration);
  let seconds = 0;
  let nanos = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === ((1 << 3) | 0)) {
      const value = reader.int64();
      // protobufjs gives a {low, high} Long when the `long` package is installed.
      seconds = typeof value === 'number' ? value : value.high * 2 ** 32 + (value.low >>> 0);
    } else if (tag === ((2 << 3) | 0)) {
      nanos = reader.int32();
    } else {
      reader.skipType(tag & 7);
    }
  }
  return seconds * 1000 + Math.round(nanos / 1e6);
}
