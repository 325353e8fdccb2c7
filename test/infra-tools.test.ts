// infra/ and the deploy guides, checked by the clouds' own tools, offline: cfn-lint over every
// CloudFormation template, gcloud's parser over every Cloud Run manifest, and every `aws` /
// `gcloud` command in docs/deploy-*.md, infra/gcp/schedule-job.sh and the manifests' comments
// through that CLI's argument parser (no account, no credentials, no network: a command that
// parses stops where it would first need credentials). Where a tool is not on PATH its tests are
// skipped, with a notice saying so.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ShellCommand, shellBlocks, shellCommands } from './support/doc-commands.js';
import { awsMajorVersion, type CliResult, findOnPath, runAwsAll, runCfnLint, runGcloud } from './support/infra-cli.js';
import { filledCloudRunManifest, GCP_PLACEHOLDERS, HMAC_SED, infra, read, root, STORAGE_CHOICES } from './support/infra-manifest.js';

const cfnLint = findOnPath('cfn-lint');
const gcloud = findOnPath('gcloud');
const aws = findOnPath('aws');
for (const [name, found] of [['cfn-lint', cfnLint], ['gcloud', gcloud], ['aws', aws]] as const) {
  // Visible in every run's output: a check that did not run is not a check that passed.
  if (!found) console.warn(`NOTICE: ${name} is not on PATH: its checks in test/infra-tools.test.ts are skipped.`);
}
const absent = (tool: string | undefined, name: string) => (tool ? '' : ` (skipped: ${name} is not on PATH)`);

// Every file the tests write (manifests, homes, workspaces) goes under one folder, removed at the end.
const scratch = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-infra-tools-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const newFolder = (name: string) => mkdtempSync(path.join(scratch, `${name}-`));

const templates = readdirSync(path.join(infra, 'aws'))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => `infra/aws/${file}`);
const manifests = readdirSync(path.join(infra, 'gcp'))
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => `infra/gcp/${file}`);

/** A Cloud Run manifest filled in as envsubst would, in a file of its own. */
function filledManifestFile(relative: string, text = filledCloudRunManifest(relative)): string {
  const file = path.join(newFolder('manifest'), path.basename(relative));
  writeFileSync(file, text);
  return file;
}

/** The gcloud command that deploys a manifest, as the guide gives it. */
const deployArgv = (relative: string, file: string) =>
  /^kind: Job$/m.test(read(relative)) ? ['run', 'jobs', 'replace', file, '--region', GCP_PLACEHOLDERS.GCP_REGION!] : ['beta', 'run', 'worker-pools', 'replace', file];

// ---------------------------------------------------------------------------------------------
// The commands of the guides, the schedule script and the manifests' comments
// ---------------------------------------------------------------------------------------------

function documentedCommands(): ShellCommand[] {
  const commands: ShellCommand[] = [];
  for (const guide of ['docs/deploy-aws.md', 'docs/deploy-gcp.md']) {
    const vars = new Map<string, string>(); // one shell session per guide
    for (const block of shellBlocks(read(guide))) commands.push(...shellCommands(block.code, vars, guide, block.line));
  }
  commands.push(...shellCommands(read('infra/gcp/schedule-job.sh'), new Map(Object.entries(GCP_PLACEHOLDERS)), 'infra/gcp/schedule-job.sh'));
  for (const manifest of manifests) {
    // The "#   command" lines at the top of each manifest.
    const lines = read(manifest).split('\n');
    lines.forEach((line, index) => {
      const command = /^#\s{3}(\S.*)$/.exec(line)?.[1];
      if (command) commands.push(...shellCommands(command, new Map(Object.entries(GCP_PLACEHOLDERS)), manifest, index + 1));
    });
  }
  return commands;
}

/**
 * The argument list a CLI gets for `command`: the tool name dropped, and a file that an earlier
 * `envsubst < infra/gcp/x.yaml > /tmp/y.yaml` wrote replaced by x.yaml filled in (or x.yaml's
 * HMAC choice, when the guide's `sed … infra/gcp/x.yaml > /tmp/x-hmac.yaml` came first).
 */
function cliArgv(command: ShellCommand, generated: Map<string, string>): string[] {
  return command.words.slice(1).map((word) => generated.get(word) ?? word);
}

function generatedManifests(commands: ShellCommand[]): Map<string, string> {
  const generated = new Map<string, string>();
  const hmacSources = new Map<string, string>();
  for (const command of commands) {
    const [tool, ...rest] = command.words;
    if (tool === 'sed' && command.stdout) {
      const source = rest.at(-1)!;
      expect(command.words.slice(0, -1), `${command.where}: the guide's sed is the HMAC choice the tests check`).toEqual(HMAC_SED);
      hmacSources.set(command.stdout, source);
    }
    if (tool === 'envsubst' && command.stdin && command.stdout) {
      const hmacSource = hmacSources.get(command.stdin);
      const relative = hmacSource ?? command.stdin;
      generated.set(command.stdout, filledManifestFile(relative, filledCloudRunManifest(relative, hmacSource ? 'hmac' : 'mount')));
    }
  }
  return generated;
}

/**
 * Where the guides' commands run: a folder with the repository's infra/ and an empty models/
 * folder (the guides upload `models` from the current folder, and the CLIs look for it first).
 */
function workspace(): string {
  const folder = newFolder('guide');
  symlinkSync(infra, path.join(folder, 'infra'));
  mkdirSync(path.join(folder, 'models'));
  return folder;
}

const describeResult = (where: string, result: CliResult) => `${where}: ${result.verdict}, exit ${result.code}: ${result.argv.join(' ')}\n${result.stderr.trim()}`;

/** AWS CLI v2 commands that v1 does not have; under v1 they are reported, not checked. */
const AWS_V2_ONLY = ['logs tail'];

describe('CloudFormation templates, by cfn-lint', () => {
  it(`passes cfn-lint (${templates.join(', ')}), and fails a copy with a misspelt property${absent(cfnLint, 'cfn-lint')}`, { skip: !cfnLint, timeout: 120_000 }, () => {
    // One cfn-lint run (~10 s) for both: the findings must all be the copy's.
    const broken = path.join(newFolder('cfn'), 'misspelt.yaml');
    writeFileSync(broken, read('infra/aws/comfyui-worker.yaml').replace('StopTimeout: 30', 'StopTimeOut: 30'));
    const { code, output } = runCfnLint(cfnLint!, [...templates, broken], root);
    const findings = output.split('\n').filter(Boolean);
    expect(findings.filter((line) => !line.startsWith(broken)), 'cfn-lint findings in infra/aws/').toEqual([]);
    expect(findings.join('\n'), 'the misspelt copy must fail').toContain('StopTimeOut');
    expect(code).not.toBe(0);
  });
});

describe('Cloud Run manifests and the guide commands, by gcloud', () => {
  it(`parses every manifest, in both storage choices, as the Cloud Run API message it deploys${absent(gcloud, 'gcloud')}`, { skip: !gcloud, timeout: 120_000 }, () => {
    const variants = manifests.flatMap((m) => STORAGE_CHOICES.map((choice) => ({ manifest: m, choice })));
    const results = runGcloud(gcloud!, variants.map(({ manifest, choice }) => deployArgv(manifest, filledManifestFile(manifest, filledCloudRunManifest(manifest, choice)))), root, newFolder('gcloud-home'));
    const problems = results.flatMap((r, i) => (r.verdict === 'accepted' ? [] : [describeResult(`${variants[i]!.manifest} (${variants[i]!.choice})`, r)]));
    expect(problems).toEqual([]);
  });

  it(`accepts every gcloud command the guides, the schedule script and the manifests give${absent(gcloud, 'gcloud')}`, { skip: !gcloud, timeout: 120_000 }, () => {
    const commands = documentedCommands();
    const generated = generatedManifests(commands);
    const ours = commands.filter((c) => c.words[0] === 'gcloud');
    expect(ours.length, 'the guides name gcloud commands').toBeGreaterThan(10);
    const results = runGcloud(gcloud!, ours.map((c) => cliArgv(c, generated)), workspace(), newFolder('gcloud-home'));
    const problems = results.flatMap((result, i) => (result.verdict === 'accepted' ? [] : [describeResult(ours[i]!.where, result)]));
    expect(problems).toEqual([]);
  });

  it(`fails a guide with a misspelt flag, the old --region of worker-pools replace, or a misspelt manifest field${absent(gcloud, 'gcloud')}`, { skip: !gcloud, timeout: 120_000 }, () => {
    // Through the same path as the guides: Markdown, shell, envsubst'd manifests, gcloud.
    const pool = 'infra/gcp/worker-pool.yaml';
    const misspelt = filledManifestFile(pool, filledCloudRunManifest(pool).replace('volumeMounts:', 'volumeMount:'));
    const guide = [
      '```sh',
      'export GCP_REGION=europe-west4',
      'gcloud run jobs execute comfyui-worker-drain --regoin $GCP_REGION',
      'envsubst < infra/gcp/worker-pool.yaml > /tmp/worker-pool.yaml',
      'gcloud beta run worker-pools replace /tmp/worker-pool.yaml --region $GCP_REGION',
      `gcloud beta run worker-pools replace ${misspelt}`,
      '```',
    ].join('\n');
    const commands = shellBlocks(guide).flatMap((block) => shellCommands(block.code, new Map(), 'a broken guide', block.line));
    const generated = generatedManifests(commands);
    const ours = commands.filter((c) => c.words[0] === 'gcloud');
    const results = runGcloud(gcloud!, ours.map((c) => cliArgv(c, generated)), workspace(), newFolder('gcloud-home'));
    expect(results.map((r) => r.verdict), results.map((r) => describeResult('refusal check', r)).join('\n')).toEqual(['refused', 'refused', 'refused']);
  });
});

describe('the guide commands, by the AWS CLI', () => {
  it(`accepts every aws command the AWS guide gives${absent(aws, 'aws')}`, { skip: !aws, timeout: 180_000 }, async () => {
    const major = awsMajorVersion(aws!);
    const commands = documentedCommands().filter((c) => c.words[0] === 'aws');
    expect(commands.length, 'the guide names aws commands').toBeGreaterThan(5);
    const unchecked = commands.filter((c) => major < 2 && AWS_V2_ONLY.some((v2) => c.words.slice(1).join(' ').startsWith(v2)));
    for (const c of unchecked) console.warn(`NOTICE: ${c.where}: "aws ${c.words.slice(1, 3).join(' ')}" needs AWS CLI v2; this machine has v${major}: not checked.`);
    const checked = commands.filter((c) => !unchecked.includes(c));
    const results = await runAwsAll(aws!, checked.map((c) => cliArgv(c, new Map())), workspace(), newFolder('aws-home'));
    const problems = results.flatMap((result, i) => (result.verdict === 'accepted' ? [] : [describeResult(checked[i]!.where, result)]));
    expect(problems).toEqual([]);
  });

  it(`fails a guide with a misspelt flag or a misspelt request field${absent(aws, 'aws')}`, { skip: !aws, timeout: 60_000 }, async () => {
    const guide = [
      '```sh',
      'export CLUSTER=comfyui-worker',
      'aws ecs run-task --clustr $CLUSTER --task-definition comfyui-worker-worker',
      `aws ecs run-task --cluster $CLUSTER --task-definition comfyui-worker-worker --overrides '{"containerOverides":[]}'`,
      '```',
    ].join('\n');
    const commands = shellBlocks(guide).flatMap((block) => shellCommands(block.code, new Map(), 'a broken guide', block.line));
    const results = await runAwsAll(aws!, commands.map((c) => cliArgv(c, new Map())), workspace(), newFolder('aws-home'));
    expect(results.map((r) => r.verdict), results.map((r) => describeResult('refusal check', r)).join('\n')).toEqual(['refused', 'refused']);
  });
});
