// The clouds' own tools, run offline: cfn-lint over the CloudFormation templates, gcloud's and
// the AWS CLI's argument parsers over the commands the deploy guides tell people to run. Nothing
// here reaches a network: each CLI runs with an empty configuration and no credentials, and a
// command it accepts stops where it would first need them.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export type Verdict = 'accepted' | 'refused' | 'unclear';
export interface CliResult {
  argv: string[];
  code: number | string | null;
  stderr: string;
  verdict: Verdict;
}

// ---------------------------------------------------------------------------------------------
// gcloud
// ---------------------------------------------------------------------------------------------

const GCLOUD_NO_ACCOUNT = 'You do not currently have an active account selected';

/** What gcloud's answer means: it got as far as needing an account, or its parser refused. */
export function gcloudVerdict(code: number | string | null, stderr: string): Verdict {
  if (code === 0 || stderr.includes(GCLOUD_NO_ACCOUNT)) return 'accepted';
  if (code === 2 || /unrecognized arguments|Invalid choice|Failed to parse value\(s\)|argument .*: /.test(stderr)) return 'refused';
  return 'unclear';
}

/**
 * Runs each argument list through gcloud's own CLI in one Python process (test/support/cli-argv.py),
 * from `cwd`, with `home` (an empty folder) as home and configuration, and project `my-project`.
 */
export function runGcloud(gcloud: string, argvs: string[][], cwd: string, home: string): CliResult[] {
  const sdk = path.dirname(path.dirname(realpathSync(gcloud)));
  const bundled = path.join(sdk, 'platform', 'bundledpythonunix', 'bin', 'python3');
  const python = existsSync(bundled) ? bundled : (process.env.CLOUDSDK_PYTHON ?? 'python3');
  const result = spawnSync(python, [path.join(import.meta.dirname, 'cli-argv.py'), 'gcloud', sdk], {
    cwd,
    input: JSON.stringify(argvs),
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      CLOUDSDK_CONFIG: path.join(home, 'gcloud'),
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      CLOUDSDK_CORE_PROJECT: 'my-project',
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
    },
  });
  if (result.status !== 0) throw new Error(`cli-argv.py gcloud failed (${result.status}):\n${result.stderr}`);
  const answers = JSON.parse(result.stdout) as { argv: string[]; code: number | string; stderr: string }[];
  return answers.map((answer) => ({ ...answer, verdict: gcloudVerdict(answer.code, answer.stderr) }));
}

// ---------------------------------------------------------------------------------------------
// AWS CLI
// ---------------------------------------------------------------------------------------------

/** What the AWS CLI's answer means: it validated the request and then looked for credentials. */
export function awsVerdict(code: number | null, stderr: string): Verdict {
  if (stderr.includes('Unable to locate credentials')) return 'accepted';
  if (code === 2 || code === 252 || /Unknown options|Invalid choice|Parameter validation failed|the following arguments are required|error: argument/.test(stderr)) return 'refused';
  return 'unclear';
}

/** The AWS CLI's major version (1 or 2). */
export function awsMajorVersion(aws: string): number {
  const result = spawnSync(aws, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return Number(/aws-cli\/(\d+)/.exec(`${result.stdout}${result.stderr}`)?.[1] ?? 0);
}

/** The AWS CLI's environment with `home` (an empty folder): no configuration, no credentials, no instance metadata. */
function awsEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'credentials'),
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/** The Python that runs AWS CLI v1 (the `aws` script's interpreter, or python3 if it has awscli); undefined for v2. */
function awsPython(aws: string): string | undefined {
  const shebang = /^#!\s*(\S*python\S*)/.exec(readFileSync(realpathSync(aws), 'utf8').slice(0, 200))?.[1];
  for (const python of [shebang, 'python3'].filter((p): p is string => Boolean(p))) {
    if (spawnSync(python, ['-c', 'import awscli.clidriver'], { env: { PATH: process.env.PATH ?? '' } }).status === 0) return python;
  }
  return undefined;
}

/**
 * Runs AWS CLI command lines from `cwd`, with `home` (an empty folder) and no credentials: in one Python
 * process for v1 (test/support/cli-argv.py), else one `aws` process per command, 3 at a time.
 */
export async function runAwsAll(aws: string, argvs: string[][], cwd: string, home: string): Promise<CliResult[]> {
  const python = awsPython(aws);
  if (!python) return inBatches(argvs, 3, (argv) => runAws(aws, argv, cwd, home));
  const result = spawnSync(python, [path.join(import.meta.dirname, 'cli-argv.py'), 'aws'], { cwd, input: JSON.stringify(argvs), encoding: 'utf8', timeout: 120_000, env: awsEnv(home) });
  if (result.status !== 0) throw new Error(`cli-argv.py aws failed (${result.status}):\n${result.stderr}`);
  const answers = JSON.parse(result.stdout) as { argv: string[]; code: number; stderr: string }[];
  return answers.map((answer) => ({ ...answer, verdict: awsVerdict(answer.code, answer.stderr) }));
}

/** Runs one AWS CLI command from `cwd` with no configuration and no credentials. */
function runAws(aws: string, argv: string[], cwd: string, home: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(aws, argv, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: awsEnv(home) });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ argv, code, stderr, verdict: awsVerdict(code, stderr) });
    });
  });
}

/** Runs `items` through `work`, at most `limit` at a time (each AWS CLI start costs ~1 s CPU). */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

// ---------------------------------------------------------------------------------------------
// cfn-lint
// ---------------------------------------------------------------------------------------------

/** cfn-lint's findings for `templates` (empty when they pass), run from `cwd`. */
export function runCfnLint(cfnLint: string, templates: string[], cwd: string): { code: number | null; output: string } {
  const result = spawnSync(cfnLint, ['--format', 'parseable', '--', ...templates], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}
