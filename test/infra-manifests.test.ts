// The deployment manifests in infra/ against the worker's configuration schema (lib/config.ts):
// every variable they set is one the worker reads, every required one is set, the whole set
// parses, file paths point into mounted volumes, and the shutdown timings fit each platform.
// When a variable is added to the schema, the first failure here names the manifest it belongs in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, type Tags } from 'yaml';
import { ENV_NAMES, envSchema, parseConfig, type EnvName } from '../lib/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const infra = path.join(root, 'infra');
const read = (relative: string) => readFileSync(path.join(root, relative), 'utf8');

const known = new Set<string>(ENV_NAMES);
const isKnown = (name: string): name is EnvName => known.has(name);
const REQUIRED = ENV_NAMES.filter((name) => !envSchema.shape[name].safeParse(undefined).success);

/** Stand-ins for values the platform injects from its secret store. */
const SECRET_SAMPLES: Partial<Record<EnvName, string>> = {
  LHC_OAUTH_CLIENT_ID: 'comfyui-worker',
  LHC_OAUTH_CLIENT_SECRET: 'not-a-real-secret',
  LHC_OAUTH_ACCESS_TOKEN_URL: 'https://auth.example.com/token',
};
const FILE_PATH_VARIABLES: EnvName[] = ['COMFYUI_OUTPUT_DIR', 'LHC_CA_CERT', 'LHC_CLIENT_CERT', 'LHC_CLIENT_KEY'];

/** Seconds between SIGTERM and SIGKILL that the worker needs beyond its grace period. */
const FARGATE_STOP_MARGIN_SEC = 5;
const FARGATE_MAX_STOP_TIMEOUT_SEC = 120;
const CLOUD_RUN_TERMINATION_SEC = 10;
const CLOUD_RUN_STOP_MARGIN_SEC = 2;

interface WorkerSetup {
  /** Where the manifest is, for messages. */
  label: string;
  env: Record<string, string>;
  /** Variables the platform fills from a secret store. */
  secretNames: string[];
  /** Container paths where volumes are mounted in the worker's container. */
  mountPaths: string[];
}

/** The checks every manifest's worker container must pass; returns the parsed configuration. */
function checkWorker({ label, env, secretNames, mountPaths }: WorkerSetup) {
  const names = [...Object.keys(env), ...secretNames];
  const unknown = names.filter((name) => !isKnown(name));
  expect(unknown, `${label} sets variables lib/config.ts does not know: ${unknown.join(', ')}`).toEqual([]);
  const missing = REQUIRED.filter((name) => !names.includes(name));
  expect(missing, `${label} does not set the required ${missing.join(', ')}`).toEqual([]);

  const withSecrets: Record<string, string> = { ...env };
  for (const name of secretNames) withSecrets[name] = (isKnown(name) && SECRET_SAMPLES[name]) || 'sample-secret';
  const parsed = parseConfig(withSecrets);
  if (!parsed.ok) expect.fail(`${label} does not pass the configuration check:\n  ${parsed.problems.join('\n  ')}`);

  for (const name of FILE_PATH_VARIABLES) {
    const value = env[name];
    if (value === undefined) continue;
    const mounted = mountPaths.some((mount) => value === mount || value.startsWith(`${mount.replace(/\/$/, '')}/`));
    const temporary = name === 'COMFYUI_OUTPUT_DIR' && value.startsWith('/tmp/');
    expect(mounted || temporary, `${label}: ${name}=${value} is not inside a mounted volume (${mountPaths.join(', ')})`).toBe(true);
  }
  return parsed.config;
}

// ---------------------------------------------------------------------------------------------
// AWS: CloudFormation, parsed with its intrinsic-function tags and evaluated for a set of
// parameter values, the way CloudFormation would.
// ---------------------------------------------------------------------------------------------

const NO_VALUE = Symbol('AWS::NoValue');
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function cloudFormationTags(): Tags {
  const tags: Tags = [{ tag: '!Ref', resolve: (value: string) => ({ Ref: value }) }];
  const functions = ['Sub', 'GetAtt', 'If', 'Join', 'Equals', 'Not', 'And', 'Or', 'Select', 'Split', 'FindInMap', 'Base64', 'Condition', 'ImportValue', 'GetAZs', 'Cidr'];
  for (const fn of functions) {
    const key = fn === 'Condition' ? 'Condition' : `Fn::${fn}`;
    tags.push({ tag: `!${fn}`, resolve: (value: string) => ({ [key]: value }) });
    tags.push({ tag: `!${fn}`, collection: 'seq', resolve: (seq) => ({ [key]: seq.toJSON() as Json }) });
    tags.push({ tag: `!${fn}`, collection: 'map', resolve: (map) => ({ [key]: map.toJSON() as Json }) });
  }
  return tags;
}

interface Template {
  Parameters: Record<string, { Type: string; Default?: string | number; AllowedValues?: (string | number)[]; AllowedPattern?: string }>;
  Rules: Record<string, { RuleCondition?: Json; Assertions: { Assert: Json; AssertDescription: string }[] }>;
  Conditions: Record<string, Json>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, Json> }>;
}

const templatePath = 'infra/aws/comfyui-worker.yaml';
const template = parse(read(templatePath), { customTags: cloudFormationTags() }) as Template;

type ParameterValues = Record<string, string | string[]>;

/** A tiny CloudFormation evaluator: Ref, Sub, GetAtt, Join, If and the condition functions. */
class Stack {
  private readonly params: Record<string, string | string[]>;
  private readonly conditions = new Map<string, boolean>();

  constructor(values: ParameterValues) {
    this.params = {
      'AWS::Region': 'eu-west-1',
      'AWS::AccountId': '123456789012',
      'AWS::StackName': 'comfyui-worker',
      'AWS::Partition': 'aws',
    };
    for (const [name, declared] of Object.entries(template.Parameters)) {
      const value = values[name] ?? (declared.Default === undefined ? undefined : String(declared.Default));
      if (value === undefined) throw new Error(`parameter ${name} has no default: the scenario must give it`);
      this.params[name] = value;
    }
    for (const name of Object.keys(values)) {
      if (!(name in template.Parameters)) throw new Error(`the scenario sets ${name}, which the template does not declare`);
    }
  }

  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const definition = template.Conditions[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    const value = this.resolve(definition) === true;
    this.conditions.set(name, value);
    return value;
  }

  /** What CloudFormation would refuse before creating anything: parameter constraints and Rules. */
  refusals(): string[] {
    const refused: string[] = [];
    for (const [name, declared] of Object.entries(template.Parameters)) {
      const value = this.params[name];
      if (typeof value !== 'string') continue;
      if (declared.AllowedValues && !declared.AllowedValues.map(String).includes(value)) refused.push(`${name}=${value} is not an allowed value`);
      if (declared.AllowedPattern && !new RegExp(declared.AllowedPattern).test(value)) refused.push(`${name}=${value} does not match its AllowedPattern`);
    }
    for (const [name, rule] of Object.entries(template.Rules ?? {})) {
      if (rule.RuleCondition !== undefined && this.resolve(rule.RuleCondition) !== true) continue;
      for (const assertion of rule.Assertions) {
        if (this.resolve(assertion.Assert) !== true) refused.push(`rule ${name}: ${assertion.AssertDescription}`);
      }
    }
    return refused;
  }

  exists(resource: string): boolean {
    const declared = template.Resources[resource];
    return declared !== undefined && (declared.Condition === undefined || this.condition(declared.Condition));
  }

  properties(resource: string): Record<string, unknown> {
    const declared = template.Resources[resource];
    if (!declared || !this.exists(resource)) throw new Error(`${resource} is not created in this scenario`);
    return this.resolve(declared.Properties) as Record<string, unknown>;
  }

  /** What Ref returns for a resource: a recognisable stand-in for its name or ARN. */
  static refOf(resource: string): string {
    return `ref:${resource}`;
  }

  resolve(node: Json): unknown {
    if (Array.isArray(node)) return node.map((item) => this.resolve(item)).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    const [only] = keys;
    if (keys.length === 1 && only !== undefined) {
      const arg = node[only] as Json;
      switch (only) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Condition':
          return this.condition(String(arg));
        case 'Fn::GetAtt': {
          const [resource, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
          return `getatt:${resource}.${attribute}`;
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [String(arg[0]), (arg[1] ?? {}) as Record<string, Json>] : [String(arg), {}];
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in vars) return String(this.resolve(vars[name] as Json));
            if (name.includes('.')) return String(this.resolve({ 'Fn::GetAtt': name }));
            return String(this.ref(name));
          });
        }
        case 'Fn::Join': {
          const [separator, list] = arg as [string, Json];
          return (this.resolve(list) as unknown[]).map(String).join(separator);
        }
        case 'Fn::If': {
          const [name, whenTrue, whenFalse] = arg as [string, Json, Json];
          return this.resolve(this.condition(name) ? whenTrue : whenFalse);
        }
        case 'Fn::Equals': {
          const [a, b] = (arg as Json[]).map((item) => this.resolve(item));
          return String(a) === String(b);
        }
        case 'Fn::Not':
          return !(this.resolve((arg as Json[])[0] as Json) as boolean);
        case 'Fn::And':
          return (arg as Json[]).every((item) => this.resolve(item) === true);
        case 'Fn::Or':
          return (arg as Json[]).some((item) => this.resolve(item) === true);
      }
      if (only.startsWith('Fn::')) throw new Error(`the test evaluator does not know ${only}; teach it or avoid it`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const resolved = this.resolve(value);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private ref(name: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in this.params) return this.params[name];
    if (name in template.Resources) return Stack.refOf(name);
    throw new Error(`Ref to unknown name ${name}`);
  }
}

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
      const stack = new Stack({ ...REQUIRED_PARAMETERS, ...scenario.parameters });
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
    const halfOAuth = new Stack({ ...REQUIRED_PARAMETERS, OAuthTokenUrl: 'https://auth.example.com/token' });
    expect(halfOAuth.refusals()).toEqual([expect.stringContaining('OAuthNeedsBothSecrets')]);
    const certWithoutKey = new Stack({ ...REQUIRED_PARAMETERS, ClientCertArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lh-cert-AbCdEf' });
    expect(certWithoutKey.refusals()).toEqual([expect.stringContaining('ClientCertNeedsKey')]);
    const sharedWithoutEfs = new Stack({ ...REQUIRED_PARAMETERS, DownloadOutputs: 'false' });
    expect(sharedWithoutEfs.refusals()).toEqual([expect.stringContaining('SharedOutputsNeedEfs')]);
    const secretByName = new Stack({ ...REQUIRED_PARAMETERS, CaCertArn: 'lh-ca' });
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

// ---------------------------------------------------------------------------------------------
// Google Cloud: Cloud Run v1 YAML, with its ${...} placeholders filled as envsubst would.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Every file in infra/, the prose included.
// ---------------------------------------------------------------------------------------------

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const full = path.join(folder, entry);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe('infra/ as a whole', () => {
  it('names only variables the worker knows, in templates, scripts and the README alike', () => {
    const strays: string[] = [];
    for (const file of [...filesUnder(infra), path.join(root, 'README.md')]) {
      for (const [name] of readFileSync(file, 'utf8').matchAll(/\b(?:COMFYUI|LHW|LHC)_[A-Z0-9_]+\b/g)) {
        if (!isKnown(name)) strays.push(`${path.relative(root, file)}: ${name}`);
      }
    }
    expect(strays, 'a renamed or removed variable is still named here').toEqual([]);
  });

  it('explains in the README every placeholder the Cloud Run manifests use', () => {
    const deploy = read('README.md');
    const used = new Set(cloudRunFiles.flatMap((file) => [...read(file).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!)));
    const unexplained = [...used].filter((name) => !deploy.includes(name));
    expect(unexplained).toEqual([]);
  });
});
