import { type CallContext, ServerError, Status } from 'nice-grpc';
import protobuf from 'protobufjs/minimal.js';

/**
 * What LittleHorse ≥ 1.1 answers a request over its quota with (SRV/server/quotas/RequestQuotaManager.java,
 * enforceOrThrow): RESOURCE_EXHAUSTED, "Quota exceeded. Retry after <n>ms.", and a google.rpc.Status
 * packing a google.rpc.RetryInfo, which grpc-java's StatusProto puts in the `grpc-status-details-bin`
 * trailer. Without a delay, the same error with no details (as other sources of RESOURCE_EXHAUSTED send).
 */
export function resourceExhausted(context: CallContext, retryDelayMs: number | undefined): ServerError {
  if (retryDelayMs === undefined) return new ServerError(Status.RESOURCE_EXHAUSTED, 'Quota exceeded.');
  const message = `Quota exceeded. Retry after ${retryDelayMs}ms.`;
  // Duration{seconds = 1, nanos = 2}, RetryInfo{retry_delay = 1}, Any{type_url = 1, value = 2},
  // Status{code = 1, message = 2, details = 3}: written by hand so the worker's decoder is checked
  // against an independent encoder.
  const duration = protobuf.Writer.create()
    .uint32((1 << 3) | 0)
    .int64(Math.floor(retryDelayMs / 1000))
    .uint32((2 << 3) | 0)
    .int32((retryDelayMs % 1000) * 1_000_000)
    .finish();
  const retryInfo = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(duration).finish();
  const any = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string('type.googleapis.com/google.rpc.RetryInfo')
    .uint32((2 << 3) | 2)
    .bytes(retryInfo)
    .finish();
  const status = protobuf.Writer.create()
    .uint32((1 << 3) | 0)
    .int32(Status.RESOURCE_EXHAUSTED)
    .uint32((2 << 3) | 2)
    .string(message)
    .uint32((3 << 3) | 2)
    .bytes(any)
    .finish();
  context.trailer.set('grpc-status-details-bin', status);
  return new ServerError(Status.RESOURCE_EXHAUSTED, message);
}
