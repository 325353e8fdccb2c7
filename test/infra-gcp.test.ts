// The Cloud Run manifests in infra/gcp/, with their ${...} placeholders filled as envsubst would,
// against the worker's configuration schema and Cloud Run's shutdown timings.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  checkWorker,
  CLOUD_RUN_TERMINATION_SEC,
  filledCloudRunManifest,
  GCP_PLACEHOLDERS,
  HMAC_SED,
  hmacChoice,
  infra,
  read,
  SDK_CREDENTIAL_VARIABLES,
  SHUTDOWN_ALLOWANCE_SEC,
  STORAGE_CHOICES,
  type StorageChoice,
  type WorkerSetup,
} from './support/infra-manifest.js';


interface RunContainer {
  name?: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
  startupProbe?: { httpGet?: { path: string; port: number }; tcpSocket?: { port: number }; periodSeconds?: number; failureThreshold?: number; initialDelaySeconds?: number };
}
interface RunPodSpec {
  containers: RunContainer[];
  volumes?: { name: string; csi?: { driver: string; volumeAttributes?: Record<string, string> }; emptyDir?: { medium?: string } }[];
  nodeSelector?: Record<string, string>;
  maxRetries?: number;
  timeoutSeconds?: number | string;
}
interface RunResource {
  apiVersion: string;
  kind: 'Job' | 'WorkerPool';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    template: {
      metadata?: { annotations?: Record<string, string> };
      spec: RunPodSpec & { taskCount?: number; parallelism?: number; template?: { spec: RunPodSpec } };
    };
  };
}

function loadCloudRun(relative: string, choice: StorageChoice = 'mount'): RunResource {
  return parse(filledCloudRunManifest(relative, choice)) as RunResource;
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

/** The volume the worker mounts at (or above) `folder`. */
function volumeHolding(resource: RunResource, folder: string) {
  const mount = (workerContainerOf(resource).volumeMounts ?? []).find((m) => folder === m.mountPath || folder.startsWith(`${m.mountPath}/`));
  return podSpecOf(resource).volumes?.find((v) => v.name === mount?.name);
}

/** How long after Cloud Scheduler fires a job execution's container may start. */
const CLOUD_RUN_JOB_START_ALLOWANCE_SEC = 120;

/** Cloud Run quantities (512Mi, 16Gi, 1G) in GiB. */
function gibibytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Mi|Gi|M|G)$/.exec(quantity);
  if (!match) throw new Error(`the test reads only Mi/Gi/M/G memory quantities, not ${quantity}`);
  const value = Number(match[1]);
  return { Mi: value / 1024, Gi: value, M: (value * 1e6) / 1024 ** 3, G: (value * 1e9) / 1024 ** 3 }[match[2] as 'Mi' | 'Gi' | 'M' | 'G'];
}

/** Cloud Run's minimum vCPU for an instance's memory (https://cloud.google.com/run/docs/configuring/services/memory-limits). */
function minimumCpuFor(memoryGiB: number): number {
  if (memoryGiB > 24) return 8;
  if (memoryGiB > 16) return 6;
  if (memoryGiB > 8) return 4;
  if (memoryGiB > 4) return 2;
  return 1;
}

const cloudRunFiles = readdirSync(path.join(infra, 'gcp'))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => `infra/gcp/${file}`);

describe('Google Cloud Run manifests (infra/gcp/)', () => {
  it('has a job, a worker pool and a GPU sidecar variant', () => {
    expect(cloudRunFiles.sort()).toEqual(['infra/gcp/job.yaml', 'infra/gcp/worker-pool-gpu-sidecar.yaml', 'infra/gcp/worker-pool.yaml']);
  });

  for (const relative of cloudRunFiles) for (const choice of STORAGE_CHOICES) {
    describe(`${relative}, outputs by ${choice === 'mount' ? 'the mount' : 'HMAC'}`, () => {
      const resource = loadCloudRun(relative, choice);
      const setup = cloudRunSetup(`${relative} (${choice})`, resource);

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

      it("fits the worker's shutdown deadline (grace + stop and report) in Cloud Run's 10 s between SIGTERM and SIGKILL", () => {
        const grace = checkWorker(setup).worker.shutdownGraceMs / 1000;
        expect(grace + SHUTDOWN_ALLOWANCE_SEC, `LHW_SHUTDOWN_GRACE_SEC (${grace}) + ${SHUTDOWN_ALLOWANCE_SEC} must be at most ${CLOUD_RUN_TERMINATION_SEC}`).toBeLessThanOrEqual(CLOUD_RUN_TERMINATION_SEC);
      });

      it('asks for an instance size Cloud Run offers (CPU against memory, GPU minimums)', () => {
        const containers = podSpecOf(resource).containers;
        const cpu = containers.reduce((sum, c) => sum + Number(c.resources?.limits?.cpu ?? 1), 0);
        const memoryGiB = containers.reduce((sum, c) => sum + gibibytes(c.resources?.limits?.memory ?? '512Mi'), 0);
        expect(cpu, `${memoryGiB} GiB in all needs at least ${minimumCpuFor(memoryGiB)} vCPU`).toBeGreaterThanOrEqual(minimumCpuFor(memoryGiB));
        expect(memoryGiB, 'Cloud Run instances have at most 32 GiB').toBeLessThanOrEqual(32);
        if (containers.some((c) => c.resources?.limits?.['nvidia.com/gpu'])) {
          expect(cpu, 'an L4 instance needs at least 4 vCPU').toBeGreaterThanOrEqual(4);
          expect(memoryGiB, 'an L4 instance needs at least 16 GiB').toBeGreaterThanOrEqual(16);
        }
        const worker = workerContainerOf(resource);
        expect(gibibytes(worker.resources?.limits?.memory ?? '512Mi'), 'Cloud Storage FUSE buffers in the worker container: give it 1 GiB').toBeGreaterThanOrEqual(1);
      });

      it('mounts only volumes it declares', () => {
        const declared = new Set((podSpecOf(resource).volumes ?? []).map((v) => v.name));
        for (const container of podSpecOf(resource).containers) {
          for (const mount of container.volumeMounts ?? []) expect(declared, `volume ${mount.name}`).toContain(mount.name);
        }
      });

      if (choice === 'mount') {
        it('keeps the outputs on the mounted bucket: no output store, no HMAC key', () => {
          const config = checkWorker(setup);
          expect(config.outputStore).toBeUndefined();
          expect(setup.secretNames.filter((name) => SDK_CREDENTIAL_VARIABLES.includes(name))).toEqual([]);
          const outputVolume = volumeHolding(resource, config.comfy.outputDir);
          expect(outputVolume?.csi?.driver, 'COMFYUI_OUTPUT_DIR is on Cloud Storage FUSE').toBe('gcsfuse.run.googleapis.com');
          expect(outputVolume?.csi?.volumeAttributes?.bucketName).toBe(GCP_PLACEHOLDERS.OUTPUT_BUCKET);
        });
      } else {
        it("uploads to the output bucket through Cloud Storage's XML API with an HMAC key from Secret Manager", () => {
          const config = checkWorker(setup);
          expect(config.outputStore?.bucket).toBe(GCP_PLACEHOLDERS.OUTPUT_BUCKET);
          expect(config.s3.endpoint).toBe('https://storage.googleapis.com');
          const worker = workerContainerOf(resource);
          for (const name of SDK_CREDENTIAL_VARIABLES) {
            const entry = worker.env?.find((e) => e.name === name);
            expect(entry?.valueFrom?.secretKeyRef?.key, `${name} from a Secret Manager secret`).toBe('latest');
          }
          if (podSpecOf(resource).containers.length === 1) {
            // ComfyUI elsewhere: each output streams from /view into the store; nothing is kept in memory.
            expect(config.comfy.downloadOutputs).toBe(false);
            expect(volumeHolding(resource, config.comfy.outputDir)?.csi, 'no FUSE mount with the HMAC choice').toBeUndefined();
          }
        });
      }

      if (resource.kind === 'WorkerPool') {
        it('names its region in the cloud.googleapis.com/location label (worker-pools replace has no --region)', () => {
          expect(resource.metadata.labels?.['cloud.googleapis.com/location']).toBe(GCP_PLACEHOLDERS.GCP_REGION);
        });
      }

      if (resource.kind === 'Job') {
        it('sets task count, parallelism, retries and task timeout deliberately, the timeout covering the longest run', () => {
          const execution = resource.spec.template.spec;
          const task = podSpecOf(resource);
          for (const [name, value] of Object.entries({ taskCount: execution.taskCount, parallelism: execution.parallelism, maxRetries: task.maxRetries, timeoutSeconds: task.timeoutSeconds })) {
            expect(value, `${relative} must set ${name} rather than take Cloud Run's default`).toBeDefined();
          }
          const config = checkWorker(setup);
          expect(config.worker.maxRuntimeMs, 'a Cloud Run job must set LHW_MAX_RUNTIME_SEC below its task timeout').toBeDefined();
          const longest = config.worker.maxRuntimeMs! / 1000 + config.worker.shutdownGraceMs / 1000 + SHUTDOWN_ALLOWANCE_SEC;
          expect(Number(task.timeoutSeconds), `timeoutSeconds must cover LHW_MAX_RUNTIME_SEC + grace + ${SHUTDOWN_ALLOWANCE_SEC} (${longest} s)`).toBeGreaterThanOrEqual(longest);
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
          // ComfyUI's flags: the container's args, or CLI_ARGS for images whose entrypoint reads it.
          const cliArgs = comfy.env?.find((e) => e.name === 'CLI_ARGS')?.value?.split(/\s+/) ?? [];
          const args = [...(comfy.args ?? []), ...cliArgs];
          const argAfter = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
          expect(base.port, 'COMFYUI_BASE_URL must use the port ComfyUI listens on').toBe(argAfter('--port') ?? '8188');
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
          const probe = comfy.startupProbe;
          expect(probe?.httpGet?.path, "the probe asks ComfyUI's /system_stats, as the worker does").toBe('/system_stats');
          expect(String(probe?.httpGet?.port)).toBe(base.port);
          // Cloud Run restarts a container whose startup probe gives up: never before the worker would.
          const window = (probe?.initialDelaySeconds ?? 0) + (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3);
          expect(window, `the probe's ${window} s must outlast COMFYUI_START_TIMEOUT_SEC`).toBeGreaterThan(config.comfy.startTimeoutMs / 1000);
          expect(window, 'Cloud Run caps failureThreshold x periodSeconds at 600 s (1800 s with a GPU)').toBeLessThanOrEqual(600);
        });
      }
    });
  }

  it('ends each job run before the next scheduled one can start, the task timeout included', () => {
    const script = read('infra/gcp/schedule-job.sh');
    const job = loadCloudRun('infra/gcp/job.yaml');
    const jobName = /^JOB=(\S+)$/m.exec(script)?.[1];
    expect(jobName, 'schedule-job.sh must start the job that job.yaml defines').toBe(job.metadata.name);
    const schedule = /^SCHEDULE='([^']+)'$/m.exec(script)?.[1] ?? '';
    const every = /^\*\/(\d+) \* \* \* \*$/.exec(schedule);
    expect(every, `the test reads only "*/N * * * *" schedules, not "${schedule}"`).not.toBeNull();
    const period = Number(every![1]) * 60;
    const config = checkWorker(cloudRunSetup('infra/gcp/job.yaml', job));
    const latestEnd = CLOUD_RUN_JOB_START_ALLOWANCE_SEC + config.worker.maxRuntimeMs! / 1000;
    expect(latestEnd, `a run may end ${latestEnd} s after the schedule fired`).toBeLessThanOrEqual(period);
    expect(Number(podSpecOf(job).timeoutSeconds), 'the timeout backstop must fit the period too').toBeLessThanOrEqual(period);
  });
});

describe('the HMAC choice', () => {
  it("is what the guide's sed command makes of each manifest", () => {
    expect(read('docs/deploy-gcp.md'), 'the guide gives the command the tests apply').toContain(
      `${HMAC_SED.slice(0, 3).join(' ')} '${HMAC_SED[3]}' -e '${HMAC_SED[5]}'`,
    );
    for (const relative of cloudRunFiles) {
      const sed = spawnSync(HMAC_SED[0]!, [...HMAC_SED.slice(1), relative], { cwd: path.join(infra, '..'), encoding: 'utf8' });
      expect(sed.status, sed.stderr).toBe(0);
      expect(sed.stdout, relative).toBe(hmacChoice(read(relative)));
      expect(sed.stdout, `${relative}: every #hmac line is uncommented`).not.toMatch(/^ *#hmac /m);
    }
  });
});

describe('the Google Cloud guide (docs/deploy-gcp.md)', () => {
  it('explains every placeholder the Cloud Run manifests use', () => {
    const deploy = read('docs/deploy-gcp.md');
    const used = new Set(cloudRunFiles.flatMap((file) => [...read(file).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)));
    const unexplained = [...used].filter((name) => !deploy.includes(name));
    expect(unexplained).toEqual([]);
  });
});
