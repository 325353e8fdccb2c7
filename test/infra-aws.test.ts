// infra/aws/comfyui-worker.yaml, evaluated for several parameter sets, against the worker's
// configuration schema and Fargate's shutdown timings.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../lib/config.js';
import { type Json, type ParameterValues, parseTemplate, Stack } from './support/cloudformation.js';
import { checkWorker, FARGATE_MAX_STOP_TIMEOUT_SEC, FARGATE_STOP_MARGIN_SEC, isKnown, read } from './support/infra-manifest.js';

const templatePath = 'infra/aws/comfyui-worker.yaml';
const template = parseTemplate(read(templatePath));

interface ContainerDefinition {
  Name: string;
  Essential?: boolean;
  Command?: string[];
  EntryPoint?: string[];
  StopTimeout?: number;
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

const awsScenarios: { name: string; parameters: ParameterValues }[] = [
  { name: 'service mode with only the required parameters', parameters: {} },
  {
    name: 'service mode with OAuth secrets and outputs on EFS',
    parameters: {
      OAuthTokenUrl: 'https://auth.example.com/realms/lh/protocol/openid-connect/token',
      OAuthClientIdArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-client-id-AbCdEf',
      OAuthClientSecretArn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/lh/client-secret',
      OutputsFileSystemId: 'fs-0123456789abcdef0',
      OutputsAccessPointId: 'fsap-0123456789abcdef0',
      DownloadOutputs: 'false',
    },
  },
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
        expect(task.RequiresCompatibilities).toEqual(['FARGATE']);
      });

      it("gives the worker's shutdown grace period room within StopTimeout", () => {
        const { worker } = workerOf(stack);
        const config = checkWorker({ label, env: envOf(worker.Environment), secretNames: (worker.Secrets ?? []).map((s) => s.Name), mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath) });
        const grace = config.worker.shutdownGraceMs / 1000;
        expect(worker.StopTimeout, 'StopTimeout must be set: without it Fargate kills after 30 s whatever the grace').toBeTypeOf('number');
        expect(worker.StopTimeout!, `StopTimeout must be at least LHW_SHUTDOWN_GRACE_SEC (${grace}) + ${FARGATE_STOP_MARGIN_SEC}`).toBeGreaterThanOrEqual(grace + FARGATE_STOP_MARGIN_SEC);
        expect(worker.StopTimeout!, 'Fargate allows a StopTimeout of 120 s at most').toBeLessThanOrEqual(FARGATE_MAX_STOP_TIMEOUT_SEC);
      });

      const runMode = String(scenario.parameters.RunMode ?? template.Parameters.RunMode?.Default);
      if (runMode === 'service') {
        it('creates an ECS service on the task definition and no schedule', () => {
          const service = stack.properties('Service');
          expect(service.TaskDefinition).toBe(Stack.refOf('TaskDefinition'));
          expect(service.LaunchType).toBe('FARGATE');
          expect(stack.exists('Schedule')).toBe(false);
        });
      } else {
        it('creates a schedule that runs the same task definition in job mode, and no service', () => {
          expect(stack.exists('Service')).toBe(false);
          const schedule = stack.properties('Schedule');
          const target = schedule.Target as { Arn: string; Input: string };
          expect(target.Arn).toBe('arn:aws:scheduler:::aws-sdk:ecs:runTask');
          const request = JSON.parse(target.Input) as {
            TaskDefinition: string;
            LaunchType: string;
            Overrides: { ContainerOverrides: { Name: string; Environment: { Name: string; Value: string }[] }[] };
          };
          expect(request.TaskDefinition).toBe(Stack.refOf('TaskDefinition'));
          expect(request.LaunchType).toBe('FARGATE');
          const [override, ...others] = request.Overrides.ContainerOverrides;
          expect(others).toEqual([]);
          expect(override?.Name, 'the override must name the worker container').toBe('worker');

          const { worker } = workerOf(stack);
          const env = { ...envOf(worker.Environment), ...envOf(override?.Environment) };
          const config = checkWorker({
            label: `${label}, schedule overrides`,
            env,
            secretNames: (worker.Secrets ?? []).map((s) => s.Name),
            mountPaths: (worker.MountPoints ?? []).map((m) => m.ContainerPath),
          });
          expect(config.worker.runMode).toBe('job');
          expect(config.worker.maxRuntimeMs, 'a scheduled drain must have LHW_MAX_RUNTIME_SEC').toBeDefined();
          // Two drains at once would share one ComfyUI: the run must end before the next one starts.
          const period = rateSeconds(String(schedule.ScheduleExpression));
          const longest = config.worker.maxRuntimeMs! / 1000 + worker.StopTimeout!;
          expect(longest, `LHW_MAX_RUNTIME_SEC + StopTimeout (${longest} s) must fit in the schedule period (${period} s)`).toBeLessThanOrEqual(period);
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
