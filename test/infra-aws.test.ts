// infra/aws/comfyui-worker.yaml, evaluated for several parameter sets (Fargate with ComfyUI
// elsewhere, in service and job mode; ComfyUI beside the worker on a GPU instance), against the
// worker's configuration schema, ECS's shutdown timings and the job schedule.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../lib/config.js';
import { type Json, type ParameterValues, parseTemplate, Stack } from './support/cloudformation.js';
import { checkWorker, FARGATE_MAX_STOP_TIMEOUT_SEC, isKnown, read, SHUTDOWN_ALLOWANCE_SEC } from './support/infra-manifest.js';

const templatePath = 'infra/aws/comfyui-worker.yaml';
const template = parseTemplate(read(templatePath));

interface ContainerDefinition {
  Name: string;
  Image?: string;
  Essential?: boolean;
  Command?: string[];
  EntryPoint?: string[];
  StopTimeout?: number;
  User?: string;
  MemoryReservation?: number;
  Memory?: number;
  ResourceRequirements?: { Type: string; Value: string }[];
  HealthCheck?: { Command: string[]; StartPeriod?: number; Interval?: number; Retries?: number };
  Environment?: { Name: string; Value: string }[];
  Secrets?: { Name: string; ValueFrom: string }[];
  MountPoints?: { SourceVolume: string; ContainerPath: string; ReadOnly?: boolean }[];
  DependsOn?: { ContainerName: string; Condition: string }[];
  LogConfiguration?: { LogDriver: string; Options?: Record<string, string> };
}

const REQUIRED_PARAMETERS: ParameterValues = {
  Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/comfyui-worker:0.1.0',
  ComfyUIBaseUrl: 'http://comfyui.internal:8188',
  LittleHorseHost: 'littlehorse.example.com',
  Subnets: ['subnet-0aaa', 'subnet-0bbb'],
  SecurityGroups: ['sg-0ccc'],
};

const OAUTH: ParameterValues = {
  OAuthTokenUrl: 'https://auth.example.com/realms/lh/protocol/openid-connect/token',
  OAuthClientIdArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-client-id-AbCdEf',
  OAuthClientSecretArn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/lh/client-secret',
};
/** A digest of the right shape; a real deployment takes the one `docker buildx imagetools inspect` prints. */
const COMFY_IMAGE = `docker.io/yanwk/comfyui-boot:cu128-slim@sha256:${'0'.repeat(64)}`;
const GPU: ParameterValues = { ComfyUIImage: COMFY_IMAGE, ComfyUIBaseUrl: '', ModelsBucket: 'my-comfyui-models' };

/** Memory (MiB) of the GPU instance types the template offers. */
const INSTANCE_MEMORY_MIB: Record<string, number> = {
  'g5.xlarge': 16384, 'g5.2xlarge': 32768, 'g5.4xlarge': 65536,
  'g6.xlarge': 16384, 'g6.2xlarge': 32768, 'g6.4xlarge': 65536,
  'g6e.xlarge': 32768, 'g6e.2xlarge': 65536,
};
/** What the OS and the ECS agent keep of an instance's memory (ECS reserves some; be generous). */
const INSTANCE_MEMORY_OVERHEAD_MIB = 1024;
/** How long Fargate may take to place a task and pull the image, on top of the schedule's retry window. */
const FARGATE_START_ALLOWANCE_SEC = 180;

/**
 * The embedded-metric-format metrics the worker writes to its log (the flow-control work): the
 * alarms depend on these names. Change both together.
 */
const WORKER_METRICS = { namespace: 'ComfyUIWorker', dimension: 'TaskDef', names: ['TasksFailed', 'ReportsUndelivered', 'BacklogAge'] };

/** Outputs to a prefix of one bucket, s3:// inputs from two places. */
const S3_STORAGE: ParameterValues = {
  OutputStoreUri: 's3://my-comfyui-outputs/renders/',
  OutputStorePresignSeconds: '3600',
  InputObjectArns: ['arn:aws:s3:::my-comfyui-inputs/*', 'arn:aws:s3:::shared-media/uploads/*'],
};

const awsScenarios: { name: string; parameters: ParameterValues }[] = [
  { name: 'service mode with only the required parameters', parameters: {} },
  {
    name: 'service mode with OAuth secrets and outputs on EFS',
    parameters: {
      ...OAUTH,
      OutputsFileSystemId: 'fs-0123456789abcdef0',
      OutputsAccessPointId: 'fsap-0123456789abcdef0',
      OutputsMountTargetSecurityGroupId: 'sg-0efs',
      DownloadOutputs: 'false',
    },
  },
  { name: 'ComfyUI beside the worker on a GPU instance, with OAuth', parameters: { ...GPU, ...OAUTH } },
  {
    name: 'ComfyUI beside the worker on a GPU instance, outputs on EFS',
    parameters: { ...GPU, GpuInstanceType: 'g5.xlarge', OutputsFileSystemId: 'fs-0123456789abcdef0', OutputsAccessPointId: 'fsap-0123456789abcdef0' },
  },
  { name: 'service mode with outputs stored in S3 and s3:// inputs', parameters: S3_STORAGE },
  { name: 'ComfyUI beside the worker on a GPU instance, outputs stored in S3', parameters: { ...GPU, OutputStoreUri: 's3://my-comfyui-outputs/' } },
  {
    name: 'job mode with a private CA and mutual TLS',
    parameters: {
      RunMode: 'job',
      CaCertArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-ca-AbCdEf',
      ClientCertArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-cert-AbCdEf',
      ClientKeyArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-key-AbCdEf',
    },
  },
];

function workerOf(stack: Stack): { task: Record<string, unknown>; worker: ContainerDefinition; all: ContainerDefinition[] } {
  const task = stack.properties('TaskDefinition');
  const all = task.ContainerDefinitions as ContainerDefinition[];
  const worker = all.find((container) => container.Name === 'worker');
  if (!worker) throw new Error('the task definition has no container named worker');
  return { task, worker, all };
}

interface IamPolicy {
  PolicyName: string;
  PolicyDocument: { Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[] };
}

const envOf = (list: { Name: string; Value: string }[] = []) => Object.fromEntries(list.map((e) => [e.Name, String(e.Value)]));

function rateSeconds(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(expression);
  if (!match) throw new Error(`the test reads only rate(N minutes|hours) schedules, not ${expression}`);
  return Number(match[1]) * (match[2]!.startsWith('hour') ? 3600 : 60);
}

describe('AWS CloudFormation template (infra/aws/comfyui-worker.yaml)', () => {
  for (const scenario of awsScenarios) {
    describe(scenario.name, () => {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, ...scenario.parameters });
      const label = `${templatePath} (${scenario.name})`;

      it('passes the parameter constraints and rules CloudFormation checks first', () => {
        expect(stack.refusals()).toEqual([]);
      });

      it('sets only known variables, every required one, and a configuration that parses', () => {
        const { worker } = workerOf(stack);
        checkWorker({
          label,
          env: envOf(worker.Environment),
          secretNames: (worker.Secrets ?? []).map((s) => s.Name),
          mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath),
        });
      });

      it("runs the image's own entry point, node dist/runner.js, and logs to CloudWatch", () => {
        const { worker, task } = workerOf(stack);
        expect(worker.Command, 'the worker container must not override the image CMD').toBeUndefined();
        expect(worker.EntryPoint, 'the worker container must not override the image ENTRYPOINT').toBeUndefined();
        expect(worker.Essential).toBe(true);
        expect(worker.LogConfiguration?.LogDriver).toBe('awslogs');
        expect(task.RequiresCompatibilities).toEqual([scenario.parameters.ComfyUIImage ? 'EC2' : 'FARGATE']);
      });

      it("fits the worker's shutdown deadline (grace + stop and report) in StopTimeout", () => {
        const { worker } = workerOf(stack);
        const config = checkWorker({ label, env: envOf(worker.Environment), secretNames: (worker.Secrets ?? []).map((s) => s.Name), mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath) });
        const grace = config.worker.shutdownGraceMs / 1000;
        expect(worker.StopTimeout, 'StopTimeout must be set: without it ECS kills after 30 s whatever the grace').toBeTypeOf('number');
        expect(worker.StopTimeout!, `StopTimeout must be at least LHW_SHUTDOWN_GRACE_SEC (${grace}) + ${SHUTDOWN_ALLOWANCE_SEC}`).toBeGreaterThanOrEqual(grace + SHUTDOWN_ALLOWANCE_SEC);
        expect(worker.StopTimeout!, 'Fargate allows a StopTimeout of 120 s at most').toBeLessThanOrEqual(FARGATE_MAX_STOP_TIMEOUT_SEC);
      });

      const runMode = String(scenario.parameters.RunMode ?? template.Parameters.RunMode?.Default);
      if (runMode === 'service' && !scenario.parameters.ComfyUIImage) {
        it('creates a Fargate ECS service on the task definition and no schedule', () => {
          const service = stack.properties('Service');
          expect(service.TaskDefinition).toBe(Stack.refOf('TaskDefinition'));
          expect(service.LaunchType).toBe('FARGATE');
          expect(stack.exists('Schedule')).toBe(false);
          expect(stack.exists('GpuService')).toBe(false);
        });
      }
      if (runMode === 'job') {
        it('creates a schedule whose checked ECS target runs the same task definition in job mode, and no service', () => {
          expect(stack.exists('Service')).toBe(false);
          const schedule = stack.properties('Schedule') as { Target: { Arn: string; EcsParameters: Record<string, unknown>; Input?: string } };
          expect(schedule.Target.Arn, 'the templated ECS target is the cluster').toBe('getatt:Cluster.Arn');
          expect(schedule.Target.Input, 'the task definition carries the job settings: no overrides').toBeUndefined();
          expect(schedule.Target.EcsParameters).toMatchObject({
            TaskDefinitionArn: Stack.refOf('TaskDefinition'),
            LaunchType: 'FARGATE',
            TaskCount: 1,
            NetworkConfiguration: { AwsvpcConfiguration: { Subnets: REQUIRED_PARAMETERS.Subnets, SecurityGroups: REQUIRED_PARAMETERS.SecurityGroups } },
          });
          const { worker } = workerOf(stack);
          const config = checkWorker({ label, env: envOf(worker.Environment), secretNames: (worker.Secrets ?? []).map((s) => s.Name), mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath) });
          expect(config.worker.runMode).toBe('job');
          expect(config.worker.maxRuntimeMs, 'a scheduled drain must have LHW_MAX_RUNTIME_SEC').toBeDefined();
        });
      }
      if (scenario.parameters.OutputsMountTargetSecurityGroupId) {
        it('lets the tasks reach the EFS mount targets on NFS (TCP 2049)', () => {
          expect(stack.properties('EfsIngressFromTasks')).toMatchObject({
            GroupId: scenario.parameters.OutputsMountTargetSecurityGroupId,
            IpProtocol: 'tcp',
            FromPort: 2049,
            ToPort: 2049,
            SourceSecurityGroupId: (REQUIRED_PARAMETERS.SecurityGroups as string[])[0],
          });
        });
      }
      if (scenario.parameters.ComfyUIImage) {
        it('runs ComfyUI on the GPU beside the worker, sharing localhost and the output folder', () => {
          const { worker, all, task } = workerOf(stack);
          const comfy = all.find((c) => c.Name === 'comfyui');
          expect(comfy, 'a container named comfyui').toBeDefined();
          expect(comfy!.Image).toBe(scenario.parameters.ComfyUIImage);
          expect(comfy!.ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }]);
          expect(task.NetworkMode, 'one network namespace per task: the worker reaches ComfyUI on localhost').toBe('awsvpc');
          const config = checkWorker({ label, env: envOf(worker.Environment), secretNames: (worker.Secrets ?? []).map((s) => s.Name), mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath) });
          expect(['127.0.0.1', 'localhost']).toContain(new URL(config.comfy.baseUrl).hostname);
          expect(config.comfy.downloadOutputs, 'a shared folder needs no download').toBe(false);

          // ComfyUI's --output-directory is COMFYUI_OUTPUT_DIR, in the same volume.
          const cliArgs = (envOf(comfy!.Environment).CLI_ARGS ?? '').split(/\s+/);
          const outputDirectory = cliArgs[cliArgs.indexOf('--output-directory') + 1];
          const workerMount = (worker.MountPoints ?? []).find((m) => config.comfy.outputDir.startsWith(m.ContainerPath));
          const comfyMount = (comfy!.MountPoints ?? []).find((m) => m.SourceVolume === workerMount?.SourceVolume);
          expect(comfyMount, 'ComfyUI must mount the volume holding COMFYUI_OUTPUT_DIR').toBeDefined();
          expect(outputDirectory).toBe(path.posix.join(comfyMount!.ContainerPath, path.posix.relative(workerMount!.ContainerPath, config.comfy.outputDir)));
          expect(comfyMount!.ReadOnly).not.toBe(true);

          // The worker starts once ComfyUI answers its health check on the port it uses.
          expect(worker.DependsOn).toContainEqual({ ContainerName: 'comfyui', Condition: 'HEALTHY' });
          const probe = (comfy!.HealthCheck?.Command ?? []).join(' ');
          expect(probe).toContain(`${new URL(config.comfy.baseUrl).origin}/system_stats`);
          const probeWindow = (comfy!.HealthCheck?.StartPeriod ?? 0) + (comfy!.HealthCheck?.Interval ?? 30) * (comfy!.HealthCheck?.Retries ?? 3);
          expect(probeWindow, 'ComfyUI gets at least as long to start as the worker would wait').toBeGreaterThanOrEqual(config.comfy.startTimeoutMs / 1000);
        });

        it('fills the model cache from the bucket before ComfyUI starts, as the uid ComfyUI runs as', () => {
          const { all } = workerOf(stack);
          const comfy = all.find((c) => c.Name === 'comfyui')!;
          const fetch = all.find((c) => c.Name === 'fetch-models');
          expect(fetch, 'a start-up container named fetch-models').toBeDefined();
          expect(fetch!.Essential).toBe(false);
          expect(comfy.DependsOn).toContainEqual({ ContainerName: 'fetch-models', Condition: 'SUCCESS' });
          const fetchEnv = envOf(fetch!.Environment);
          expect(fetchEnv.MODELS_BUCKET).toBe(scenario.parameters.ModelsBucket);
          expect(fetchEnv.OUTPUTS_OWNER).toBe(comfy.User);
          const script = (fetch!.Command ?? []).join(' ');
          const modelsTarget = (fetch!.MountPoints ?? []).find((m) => m.SourceVolume === 'models')?.ContainerPath;
          expect(script).toContain(`aws s3 sync "s3://$MODELS_BUCKET/$MODELS_PREFIX" ${modelsTarget} `);
          const comfyModels = (comfy.MountPoints ?? []).find((m) => m.SourceVolume === 'models');
          expect(comfyModels?.ContainerPath, "ComfyUI reads the cache as its models folder").toBe('/root/ComfyUI/models');
          const outputsTarget = (fetch!.MountPoints ?? []).find((m) => m.SourceVolume === 'outputs')?.ContainerPath;
          expect(script).toContain(`chown "$OUTPUTS_OWNER" ${outputsTarget}`);
        });

        it('runs the task on GPU instances of a capacity provider, one per instance, within their memory', () => {
          expect(stack.exists('Service')).toBe(false);
          const service = stack.properties('GpuService');
          expect(service.CapacityProviderStrategy).toEqual([{ CapacityProvider: Stack.refOf('GpuCapacityProvider'), Weight: 1 }]);
          expect(service.LaunchType).toBeUndefined();
          expect(service.PlacementConstraints).toEqual([{ Type: 'distinctInstance' }]);
          const provider = stack.properties('GpuCapacityProvider') as { AutoScalingGroupProvider: { AutoScalingGroupArn: string } };
          expect(provider.AutoScalingGroupProvider.AutoScalingGroupArn).toBe(Stack.refOf('GpuAutoScalingGroup'));
          const launch = stack.properties('GpuLaunchTemplate') as { LaunchTemplateData: { InstanceType: string; UserData: string; ImageId: string } };
          const instanceType = launch.LaunchTemplateData.InstanceType;
          expect(instanceType).toMatch(/^g[56]e?\./);
          expect(launch.LaunchTemplateData.ImageId).toMatch(/^\{\{resolve:ssm:\/aws\/service\/ecs\/optimized-ami\/.*gpu/);
          expect(launch.LaunchTemplateData.UserData).toContain(`ECS_CLUSTER=${Stack.refOf('Cluster')}`);
          const { all } = workerOf(stack);
          const reserved = all.reduce((sum, c) => sum + (c.MemoryReservation ?? c.Memory ?? 0), 0);
          expect(reserved, `${reserved} MiB reserved on a ${instanceType}`).toBeLessThanOrEqual(INSTANCE_MEMORY_MIB[instanceType]! - INSTANCE_MEMORY_OVERHEAD_MIB);
        });
      }

      if (scenario.parameters.CaCertArn || scenario.parameters.ClientCertArn) {
        it('writes the TLS files before the worker starts, into the folder the worker reads them from', () => {
          const { worker, all } = workerOf(stack);
          const writer = all.find((container) => container.Name === 'write-tls-files');
          expect(writer, 'a container must write the PEM secrets to files').toBeDefined();
          expect(writer!.Essential).toBe(false);
          expect(worker.DependsOn).toContainEqual({ ContainerName: 'write-tls-files', Condition: 'SUCCESS' });
          const env = envOf(worker.Environment);
          const script = (writer!.Command ?? []).join(' ');
          for (const name of ['LHC_CA_CERT', 'LHC_CLIENT_CERT', 'LHC_CLIENT_KEY'] as const) {
            const file = env[name];
            expect(file, `${name} must be set`).toBeDefined();
            const readerMount = (worker.MountPoints ?? []).find((m) => path.posix.dirname(file!) === m.ContainerPath);
            const writerMount = (writer!.MountPoints ?? []).find((m) => m.SourceVolume === readerMount?.SourceVolume);
            expect(writerMount?.ContainerPath, `${name}: both containers must mount the same volume at the same path`).toBe(readerMount?.ContainerPath);
            expect(script, `${name}: the writer must write ${path.posix.basename(file!)}`).toContain(`'${path.posix.basename(file!)}'`);
          }
        });
      }
    });
  }

  describe('output storage and inputs in S3', () => {
    const policiesOf = (stack: Stack) =>
      stack.exists('TaskRole') ? ((stack.properties('TaskRole') as { Policies?: IamPolicy[] }).Policies ?? []) : [];
    /** Every S3 action the task role allows, with the resources it allows it on. */
    const s3Grants = (stack: Stack) =>
      policiesOf(stack).flatMap((policy) =>
        policy.PolicyDocument.Statement.flatMap((statement) =>
          [statement.Action].flat().filter((action) => action.startsWith('s3:')).map((action) => ({ policy: policy.PolicyName, action, resources: [statement.Resource].flat() })),
        ),
      );
    const configOf = (stack: Stack) => {
      const { worker } = workerOf(stack);
      return checkWorker({ label: 'S3 storage', env: envOf(worker.Environment), secretNames: (worker.Secrets ?? []).map((s) => s.Name), mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath) });
    };

    it('gives the worker no task role, no S3 access and no storage variables when neither is set', () => {
      const stack = new Stack(template, REQUIRED_PARAMETERS);
      expect(stack.exists('TaskRole')).toBe(false);
      expect(workerOf(stack).task.TaskRoleArn).toBeUndefined();
      const env = envOf(workerOf(stack).worker.Environment);
      expect(Object.keys(env).filter((name) => /^COMFYUI_(OUTPUT_STORE|S3_)/.test(name))).toEqual([]);
      const config = configOf(stack);
      expect(config.outputStore).toBeUndefined();
    });

    it("lets the task role write only under OutputStoreUri's prefix, with the calls the upload makes", () => {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, ...S3_STORAGE });
      expect(stack.refusals()).toEqual([]);
      expect(workerOf(stack).task.TaskRoleArn).toBe('getatt:TaskRole.Arn');
      const config = configOf(stack);
      expect(config.outputStore).toMatchObject({ bucket: 'my-comfyui-outputs', prefix: 'renders/', presignSec: 3600 });
      const writes = s3Grants(stack).filter((grant) => grant.policy === 'write-outputs');
      // lib-storage's Upload (PutObject / multipart), its abort on failure, HeadObject and presigned GETs.
      expect(writes.map((grant) => grant.action).sort()).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject']);
      for (const grant of writes) {
        expect(grant.resources, 'the objects under the prefix, nothing else').toEqual([`arn:aws:s3:::${config.outputStore!.bucket}/${config.outputStore!.prefix}*`]);
      }
      expect(envOf(workerOf(stack).worker.Environment).COMFYUI_S3_REGION, 'the buckets are in the stack region by default').toBe('eu-west-1');
    });

    it('lets the task role read exactly the input objects named, and nothing more than GetObject anywhere else', () => {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, ...S3_STORAGE, BucketsRegion: 'us-east-1' });
      const grants = s3Grants(stack);
      expect(grants.filter((grant) => grant.policy === 'read-inputs')).toEqual([{ policy: 'read-inputs', action: 's3:GetObject', resources: S3_STORAGE.InputObjectArns }]);
      expect(grants.every((grant) => grant.resources.every((resource) => resource.includes('/'))), 'object ARNs only: no bucket-level action').toBe(true);
      expect(envOf(workerOf(stack).worker.Environment).COMFYUI_S3_REGION).toBe('us-east-1');
      const inputsOnly = new Stack(template, { ...REQUIRED_PARAMETERS, InputObjectArns: S3_STORAGE.InputObjectArns! });
      expect(s3Grants(inputsOnly).map((grant) => grant.policy)).toEqual(['read-inputs']);
      expect(configOf(inputsOnly).outputStore).toBeUndefined();
    });

    it('keeps the models policy of a GPU stack alongside the output policy, each on its own bucket', () => {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, ...GPU, OutputStoreUri: 's3://my-comfyui-outputs/' });
      const grants = s3Grants(stack);
      expect(grants.filter((grant) => grant.policy === 'read-models').flatMap((grant) => grant.resources).every((arn) => arn.startsWith('arn:aws:s3:::my-comfyui-models'))).toBe(true);
      expect(new Set(grants.filter((grant) => grant.policy === 'write-outputs').flatMap((grant) => grant.resources))).toEqual(new Set(['arn:aws:s3:::my-comfyui-outputs/*']));
      expect(grants.some((grant) => grant.policy === 'read-inputs')).toBe(false);
      expect(envOf(workerOf(stack).worker.Environment).COMFYUI_OUTPUT_STORE_PRESIGN_SEC, '0 = no presigned URLs').toBeUndefined();
    });

    it('refuses an output URI the policy could not scope (no trailing /, a wildcard, not s3://) and input ARNs that are not objects', () => {
      for (const uri of ['s3://my-comfyui-outputs/renders', 's3://my-comfyui-outputs', 's3://my-comfyui-outputs/a*/', 'gs://my-comfyui-outputs/', 'https://my-comfyui-outputs.s3.amazonaws.com/']) {
        const stack = new Stack(template, { ...REQUIRED_PARAMETERS, OutputStoreUri: uri });
        expect(stack.refusals(), uri).toEqual([expect.stringContaining(`OutputStoreUri=${uri}`)]);
      }
      for (const arn of ['arn:aws:s3:::my-comfyui-inputs', 'my-comfyui-inputs', '*']) {
        const stack = new Stack(template, { ...REQUIRED_PARAMETERS, InputObjectArns: [arn] });
        expect(stack.refusals(), arn).toEqual([expect.stringContaining(`InputObjectArns=${arn}`)]);
      }
      const tooLong = new Stack(template, { ...REQUIRED_PARAMETERS, ...S3_STORAGE, OutputStorePresignSeconds: '604801' });
      expect(tooLong.refusals()).toEqual([expect.stringContaining('OutputStorePresignSeconds')]);
    });

    it('accepts every output URI the template allows as a COMFYUI_OUTPUT_STORE the worker parses the same way', () => {
      for (const uri of ['s3://my-comfyui-outputs/', 's3://my.bucket-1/a/b/c/']) {
        const stack = new Stack(template, { ...REQUIRED_PARAMETERS, OutputStoreUri: uri });
        expect(stack.refusals()).toEqual([]);
        const store = configOf(stack).outputStore!;
        expect(`s3://${store.bucket}/${store.prefix}`).toBe(uri);
      }
    });
  });

  it('ends every scheduled run before the next one can start, for each period the template offers', () => {
    const periods = template.Parameters.JobPeriodMinutes!.AllowedValues!.map(String);
    expect(periods.length).toBeGreaterThan(0);
    for (const minutes of periods) {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, RunMode: 'job', JobPeriodMinutes: minutes });
      const schedule = stack.properties('Schedule') as { ScheduleExpression: string; Target: { RetryPolicy: { MaximumEventAgeInSeconds: number } } };
      expect(rateSeconds(schedule.ScheduleExpression)).toBe(Number(minutes) * 60);
      const { worker } = workerOf(stack);
      const config = checkWorker({ label: `job mode every ${minutes} minutes`, env: envOf(worker.Environment), secretNames: [], mountPaths: [] });
      // The worker ends within LHW_MAX_RUNTIME_SEC of its start; it starts at most the retry
      // window plus Fargate's start-up after the schedule fires.
      const latestEnd = schedule.Target.RetryPolicy.MaximumEventAgeInSeconds + FARGATE_START_ALLOWANCE_SEC + config.worker.maxRuntimeMs! / 1000;
      expect(latestEnd, `every ${minutes} min: a run may end ${latestEnd} s after its start was due`).toBeLessThanOrEqual(Number(minutes) * 60);
      expect(config.worker.maxRuntimeMs! / 1000, 'a run must outlast its idle exit').toBeGreaterThan(config.worker.idleExitMs / 1000);
    }
  });

  it('refuses half-given credentials or shared outputs without EFS before creating anything', () => {
    const halfOAuth = new Stack(template, { ...REQUIRED_PARAMETERS, OAuthTokenUrl: 'https://auth.example.com/token' });
    expect(halfOAuth.refusals()).toEqual([expect.stringContaining('OAuthNeedsBothSecrets')]);
    const certWithoutKey = new Stack(template, { ...REQUIRED_PARAMETERS, ClientCertArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-cert-AbCdEf' });
    expect(certWithoutKey.refusals()).toEqual([expect.stringContaining('ClientCertNeedsKey')]);
    const sharedWithoutEfs = new Stack(template, { ...REQUIRED_PARAMETERS, DownloadOutputs: 'false' });
    expect(sharedWithoutEfs.refusals()).toEqual([expect.stringContaining('SharedOutputsNeedEfs')]);
    const secretByName = new Stack(template, { ...REQUIRED_PARAMETERS, CaCertArn: 'lh-ca' });
    expect(secretByName.refusals()).toEqual([expect.stringContaining('CaCertArn=lh-ca')]);
  });

  it("alarms on failed tasks, undelivered reports and backlog age, for this worker's TaskDef", () => {
    const withTopic: ParameterValues = { AlarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:comfyui-alerts', TaskName: 'render-thumbnail' };
    for (const parameters of [{} as ParameterValues, withTopic]) {
      const stack = new Stack(template, { ...REQUIRED_PARAMETERS, ...parameters });
      const taskName = envOf(workerOf(stack).worker.Environment).LHW_TASK_NAME;
      const alarms = Object.entries(template.Resources)
        .filter(([name, resource]) => resource.Type === 'AWS::CloudWatch::Alarm' && stack.exists(name))
        .map(([name]) => stack.properties(name) as { Namespace: string; MetricName: string; Dimensions: unknown[]; TreatMissingData: string; AlarmActions?: string[] });
      expect(alarms.map((a) => a.MetricName).sort()).toEqual([...WORKER_METRICS.names].sort());
      for (const alarm of alarms) {
        expect(alarm.Namespace).toBe(WORKER_METRICS.namespace);
        expect(alarm.Dimensions).toEqual([{ Name: WORKER_METRICS.dimension, Value: taskName }]);
        expect(alarm.TreatMissingData, 'no worker running is not an alarm').toBe('notBreaching');
        expect(alarm.AlarmActions).toEqual('AlarmTopicArn' in parameters ? [parameters.AlarmTopicArn] : undefined);
      }
    }
  });

  it('refuses a ComfyUI image without a digest, a GPU job, or no ComfyUI at all', () => {
    const byTag = new Stack(template, { ...REQUIRED_PARAMETERS, ...GPU, ComfyUIImage: 'docker.io/yanwk/comfyui-boot:cu128-slim' });
    expect(byTag.refusals()).toEqual([expect.stringContaining('ComfyUIImage=')]);
    const gpuJob = new Stack(template, { ...REQUIRED_PARAMETERS, ...GPU, RunMode: 'job' });
    expect(gpuJob.refusals()).toEqual([expect.stringContaining('GpuTasksAreServices')]);
    const noModels = new Stack(template, { ...REQUIRED_PARAMETERS, ...GPU, ModelsBucket: '' });
    expect(noModels.refusals()).toEqual([expect.stringContaining('GpuTasksAreServices')]);
    const nowhere = new Stack(template, { ...REQUIRED_PARAMETERS, ComfyUIBaseUrl: '' });
    expect(nowhere.refusals()).toEqual([expect.stringContaining('ComfyUISomewhere')]);
  });

  it('offers parameter values (defaults and allowed values) that the worker accepts', () => {
    const raw = template.Resources.TaskDefinition!.Properties.ContainerDefinitions as unknown as { Name: string; Environment: Json[] }[];
    const worker = raw.find((container) => container.Name === 'worker')!;
    const problems: string[] = [];
    for (const entry of worker.Environment) {
      const { Name, Value } = entry as { Name?: string; Value?: Json };
      const ref = Value && typeof Value === 'object' && !Array.isArray(Value) ? (Value as { Ref?: string }).Ref : undefined;
      if (!Name || !isKnown(Name) || !ref || !(ref in template.Parameters)) continue;
      const declared = template.Parameters[ref]!;
      const candidates = [...(declared.AllowedValues ?? []), ...(declared.Default === undefined || declared.Default === '' ? [] : [declared.Default])];
      for (const candidate of candidates) {
        if (!envSchema.shape[Name].safeParse(String(candidate)).success) problems.push(`${ref}=${candidate} is not a valid ${Name}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the AWS guide (docs/deploy-aws.md)', () => {
  it("names every parameter of the template", () => {
    const guide = read('docs/deploy-aws.md');
    const unexplained = Object.keys(template.Parameters).filter((name) => !new RegExp(`\\b${name}\\b`).test(guide));
    expect(unexplained).toEqual([]);
  });
});
