import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createChannel, createClient } from 'nice-grpc';
import { LittleHorseDefinition } from 'littlehorse-client/proto';
import { startFakeComfy } from '../devstack/comfyui/index.js';
import { startFakeLittleHorse } from '../devstack/littlehorse/index.js';
import { type Summary, summarise } from './stats.js';

export interface FloorFigures {
  /** Spawn of a bare `node` that prints one byte, to that byte arriving. */
  nodeStartMs: Summary;
  /** One unary gRPC call to the LittleHorse double on loopback. */
  grpcRoundTripMs: Summary;
  /** One keep-alive HTTP GET to the ComfyUI double on loopback. */
  httpRoundTripMs: Summary;
}

/** What no worker can beat on this machine: a process start and one round trip of each protocol. */
export async function measureFloor(samples: number): Promise<FloorFigures> {
  const lh = await startFakeLittleHorse();
  const comfy = await startFakeComfy();
  const channel = createChannel(`${lh.host}:${lh.port}`);
  const client = createClient(LittleHorseDefinition, channel);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const nodeStart: number[] = [];
    for (let i = 0; i < 5; i++) nodeStart.push(await timeNodeStart());
    const grpc = await timeRepeatedly(samples, () => client.getTaskRun({ wfRunId: { id: 'none' }, taskGuid: 'none' }).catch(() => undefined));
    const http = await timeRepeatedly(samples, () => httpGet(`${comfy.url}/system_stats`, agent));
    return { nodeStartMs: summarise(nodeStart), grpcRoundTripMs: summarise(grpc), httpRoundTripMs: summarise(http) };
  } finally {
    agent.destroy();
    channel.close();
    await lh.stop();
    await comfy.stop();
  }
}

async function timeRepeatedly(samples: number, call: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 50; i++) await call(); // warm the connection and the JIT
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  return times;
}

function timeNodeStart(): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("x")'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(performance.now() - start));
    child.once('error', reject);
  });
}

function httpGet(url: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (response) => {
      response.resume();
      response.once('end', resolve);
    })
      .once('error', reject)
      .end();
  });
}
