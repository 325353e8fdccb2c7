// The Cloud Run manifests in infra/gcp/, with their ${...} placeholders filled as envsubst would,
// against the worker's configuration schema and Cloud Run's shutdown timings.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  checkWorker,
  CLOUD_RUN_STOP_MARGIN_SEC,
  CLOUD_RUN_TERMINATION_SEC,
  FARGATE_STOP_MARGIN_SEC,
  infra,
  read,
  type WorkerSetup,
} from './support/infra-manifest.js';

const GCP_PLACEHOLDERS: Record<string, string> = {
  RUN_SERVICE_ACCOUNT: 'comfyui-worker@my-project.iam.gserviceaccount.com',
  WORKER_IMAGE: 'europe-west4-docker.pkg.dev/my-project/comfyui/comfyui-worker:0.1.0',
  COMFY_IMAGE: 'europe-west4-docker.pkg.dev/my-project/comfyui/comfyui:latest',
  TASK_NAME: 'execute-comfyui-workflow',
  COMFY_URL: 'http://comfyui.internal:8188',
  LITTLEHORSE_HOST: 'littlehorse.example.com',
  LITTLEHORSE_TOKEN_URL: 'https://auth.example.com/realms/lh/protocol/openid-connect/token',
  OUTPUT_BUCKET: 'my-project-comfyui-outputs',
};

interface RunContainer {
  name?: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
  startupProbe?: unknown;
}
interface RunPodSpec {
  containers: RunContainer[];
  volumes?: { name: string }[];
  nodeSelector?: Record<string, string>;
  maxRetries?: number;
  timeoutSeconds?: number | string;
}
interface RunResource {
  apiVersion: string;
  kind: 'Job' | 'WorkerPool';
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    template: {
      metadata?: { annotations?: Record<string, string> };
      spec: RunPodSpec & { taskCount?: number; parallelism?: number; template?: { spec: RunPodSpec } };
    };
  };
}

function loadCloudRun(relative: string): RunResource {
  const unknown: string[] = [];
  const text = read(relative).replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const sample = GCP_PLACEHOLDERS[name];
    if (sample === undefined) unknown.push(name);
    return sample ?? '';
  });
  if (unknown.length > 0) throw new Error(`${relative} uses placeholders this test does not list: ${unknown.join(', ')}`);
  return parse(text) as RunResource;
}

const podSpecOf = (resource: RunResource): RunPodSpec =>
  resource.kind === 'Job' ? resource.spec.template.spec.template!.spec : resource.spec.template.spec;

function workerContainerOf(resource: RunResource): RunContainer {
  const workers = podSpecOf(resource).containers.filter((c) => c.image === GCP_PLACEHOLDERS.WORKER_IMAGE);
  if (workers.length !== 1) throw new Error(`${resource.metadata.name}: exactly one container must run \${WORKER_IMAGE}`);
  return workers[0]!;
}

function cloudRunSetup(relative: string, resource: RunResource): WorkerSetup {
  const worker = workerContainerOf(resource);
  const env: Record<string, string> = {};
  const secretNames: string[] = [];
  for (const entry of worker.env ?? []) {
    if (entry.valueFrom?.secretKeyRef) secretNames.push(entry.name);
    else env[entry.name] = String(entry.value ?? '');
  }
  return { label: relative, env, secretNames, mountPaths: (worker.volumeMounts ?? []).map((m) => m.mountPath) };
}

const cloudRunFiles = readdirSync(path.join(infra, 'gcp'))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => `infra/gcp/${file}`);

describe('Google Cloud Run manifests (infra/gcp/)', () => {
  it('has a job, a worker pool and a GPU sidecar variant', () => {
    expect(cloudRunFiles.sort()).toEqual(['infra/gcp/job.yaml', 'infra/gcp/worker-pool-gpu-sidecar.yaml', 'infra/gcp/worker-pool.yaml']);
  });

  for (const relative of cloudRunFiles) {
    describe(relative, () => {
      const resource = loadCloudRun(relative);
      const setup = cloudRunSetup(relative, resource);

      it('is a Cloud Run v1 Job or WorkerPool', () => {
        expect(resource.apiVersion).toBe('run.googleapis.com/v1');
        expect(['Job', 'WorkerPool']).toContain(resource.kind);
      });

      it('sets only known variables, every required one, and a configuration that parses', () => {
        checkWorker(setup);
      });

      it("runs the image's own entry point, node dist/runner.js", () => {
        const worker = workerContainerOf(resource);
        expect(worker.command, 'the worker container must not override the image CMD').toBeUndefined();
        expect(worker.args, 'the worker container must not add arguments').toBeUndefined();
      });

      it('runs in the mode its kind is for: a Job drains, a WorkerPool serves', () => {
        const config = checkWorker(setup);
        expect(config.worker.runMode).toBe(resource.kind === 'Job' ? 'job' : 'service');
      });

      it("fits the worker's shutdown grace period in Cloud Run's 10 s between SIGTERM and SIGKILL", () => {
        const grace = checkWorker(setup).worker.shutdownGraceMs / 1000;
        expect(grace + CLOUD_RUN_STOP_MARGIN_SEC, `LHW_SHUTDOWN_GRACE_SEC (${grace}) + ${CLOUD_RUN_STOP_MARGIN_SEC} must be at most ${CLOUD_RUN_TERMINATION_SEC}`).toBeLessThanOrEqual(CLOUD_RUN_TERMINATION_SEC);
      });

      it('mounts only volumes it declares', () => {
        const declared = new Set((podSpecOf(resource).volumes ?? []).map((v) => v.name));
        for (const container of podSpecOf(resource).containers) {
          for (const mount of container.volumeMounts ?? []) expect(declared, `volume ${mount.name}`).toContain(mount.name);
        }
      });

      if (resource.kind === 'Job') {
        it('sets task count, parallelism, retries and task timeout deliberately, the timeout covering the longest run', () => {
          const execution = resource.spec.template.spec;
          const task = podSpecOf(resource);
          for (const [name, value] of Object.entries({ taskCount: execution.taskCount, parallelism: execution.parallelism, maxRetries: task.maxRetries, timeoutSeconds: task.timeoutSeconds })) {
            expect(value, `${relative} must set ${name} rather than take Cloud Run's default`).toBeDefined();
          }
          const config = checkWorker(setup);
          expect(config.worker.maxRuntimeMs, 'a Cloud Run job must set LHW_MAX_RUNTIME_SEC below its task timeout').toBeDefined();
          const longest = config.worker.maxRuntimeMs! / 1000 + config.worker.shutdownGraceMs / 1000 + FARGATE_STOP_MARGIN_SEC;
          expect(Number(task.timeoutSeconds), `timeoutSeconds must cover LHW_MAX_RUNTIME_SEC + grace + ${FARGATE_STOP_MARGIN_SEC} (${longest} s)`).toBeGreaterThanOrEqual(longest);
        });
      }

      if (podSpecOf(resource).containers.length > 1) {
        it('runs ComfyUI beside the worker on a GPU, sharing the output volume and the local network', () => {
          const spec = podSpecOf(resource);
          const worker = workerContainerOf(resource);
          const comfy = spec.containers.find((c) => c !== worker)!;
          expect(comfy.resources?.limits?.['nvidia.com/gpu'], 'the ComfyUI container holds the GPU').toBe('1');
          expect(worker.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
          expect(spec.nodeSelector?.['run.googleapis.com/accelerator']).toBeDefined();

          const config = checkWorker(setup);
          const base = new URL(config.comfy.baseUrl);
          expect(['127.0.0.1', 'localhost']).toContain(base.hostname);
          const args = comfy.args ?? [];
          const argAfter = (flag: string) => args[args.indexOf(flag) + 1];
          expect(base.port, 'COMFYUI_BASE_URL must use the port ComfyUI listens on').toBe(argAfter('--port'));
          expect(config.comfy.downloadOutputs, 'a shared volume needs no download').toBe(false);

          // The folder ComfyUI writes to and COMFYUI_OUTPUT_DIR are the same place in one volume.
          const outputDir = config.comfy.outputDir;
          const workerMount = (worker.volumeMounts ?? []).find((m) => outputDir === m.mountPath || outputDir.startsWith(`${m.mountPath}/`));
          const comfyMount = (comfy.volumeMounts ?? []).find((m) => m.name === workerMount?.name);
          expect(comfyMount, 'ComfyUI must mount the volume holding COMFYUI_OUTPUT_DIR').toBeDefined();
          const inComfy = path.posix.join(comfyMount!.mountPath, path.posix.relative(workerMount!.mountPath, outputDir));
          expect(argAfter('--output-directory')).toBe(inComfy);

          // The worker starts once ComfyUI passes its startup probe (which Cloud Run requires for a dependency).
          const dependencies = JSON.parse(resource.spec.template.metadata?.annotations?.['run.googleapis.com/container-dependencies'] ?? '{}') as Record<string, string[]>;
          expect(dependencies[worker.name ?? '']).toContain(comfy.name);
          expect(comfy.startupProbe).toBeDefined();
        });
      }
    });
  }

  it('schedules the job no more often than its task timeout, so executions never overlap', () => {
    const script = read('infra/gcp/schedule-job.sh');
    const job = loadCloudRun('infra/gcp/job.yaml');
    const jobName = /^JOB=(\S+)$/m.exec(script)?.[1];
    expect(jobName, 'schedule-job.sh must start the job that job.yaml defines').toBe(job.metadata.name);
    const schedule = /^SCHEDULE='([^']+)'$/m.exec(script)?.[1] ?? '';
    const every = /^\*\/(\d+) \* \* \* \*$/.exec(schedule);
    expect(every, `the test reads only "*/N * * * *" schedules, not "${schedule}"`).not.toBeNull();
    expect(Number(every![1]) * 60).toBeGreaterThanOrEqual(Number(podSpecOf(job).timeoutSeconds));
  });
});

describe('the README on Cloud Run', () => {
  it('explains every placeholder the Cloud Run manifests use', () => {
    const deploy = read('README.md');
    const used = new Set(cloudRunFiles.flatMap((file) => [...read(file).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)));
    const unexplained = [...used].filter((name) => !deploy.includes(name));
    expect(unexplained).toEqual([]);
  });
});
