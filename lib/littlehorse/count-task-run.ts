import _m0 from 'protobufjs/minimal.js';
import { LittleHorseDefinition, TaskStatus, taskStatusFromJSON, taskStatusToNumber } from 'littlehorse-client/proto';

/**
 * CountTaskRun, added in LittleHorse 1.2.0 (schemas/littlehorse/service.proto: CountTaskRunRequest
 * { string task_def_name = 1; TaskStatus status = 2; } → Count { int64 value = 1; }) and absent from
 * littlehorse-client 0.14.0: the two messages by hand, in ts-proto's shape, so nice-grpc can call it
 * beside the package's own methods. Older servers answer UNIMPLEMENTED.
 */
export interface CountTaskRunRequest {
  taskDefName: string;
  status: TaskStatus;
}

export interface Count {
  value: number;
}

const CountTaskRunRequest = {
  encode(message: CountTaskRunRequest, writer: _m0.Writer = _m0.Writer.create()): _m0.Writer {
    if (message.taskDefName !== '') writer.uint32(10).string(message.taskDefName);
    if (message.status !== TaskStatus.TASK_SCHEDULED) writer.uint32(16).int32(taskStatusToNumber(message.status));
    return writer;
  },
  decode(input: _m0.Reader | Uint8Array, length?: number): CountTaskRunRequest {
    const reader = input instanceof _m0.Reader ? input : _m0.Reader.create(input);
    const end = length === undefined ? reader.len : reader.pos + length;
    const message: CountTaskRunRequest = { taskDefName: '', status: TaskStatus.TASK_SCHEDULED };
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (tag === 10) message.taskDefName = reader.string();
      else if (tag === 16) message.status = taskStatusFromJSON(reader.int32());
      else reader.skipType(tag & 7);
    }
    return message;
  },
  fromPartial(object: Partial<CountTaskRunRequest>): CountTaskRunRequest {
    return { taskDefName: object.taskDefName ?? '', status: object.status ?? TaskStatus.TASK_SCHEDULED };
  },
};

const Count = {
  encode(message: Count, writer: _m0.Writer = _m0.Writer.create()): _m0.Writer {
    if (message.value !== 0) writer.uint32(8).int64(message.value);
    return writer;
  },
  decode(input: _m0.Reader | Uint8Array, length?: number): Count {
    const reader = input instanceof _m0.Reader ? input : _m0.Reader.create(input);
    const end = length === undefined ? reader.len : reader.pos + length;
    const message: Count = { value: 0 };
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (tag === 8) message.value = Number(reader.int64().toString());
      else reader.skipType(tag & 7);
    }
    return message;
  },
  fromPartial(object: Partial<Count>): Count {
    return { value: object.value ?? 0 };
  },
};

/** LittleHorse's service as the npm package defines it, plus CountTaskRun. */
export const LittleHorseService = {
  ...LittleHorseDefinition,
  methods: {
    ...LittleHorseDefinition.methods,
    countTaskRun: {
      name: 'CountTaskRun',
      requestType: CountTaskRunRequest,
      requestStream: false,
      responseType: Count,
      responseStream: false,
      options: {},
    },
  },
} as const;
