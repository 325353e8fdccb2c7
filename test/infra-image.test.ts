// The container image, checked without Docker: the Dockerfile read as text, the .dockerignore
// matched against the files the bundle is built from, and the bundle run alone in an empty
// folder, as the image's runtime stage holds it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_NAMES, envSchema } from '../lib/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (relative: string) => readFileSync(path.join(root, relative), 'utf8');
const REQUIRED = ENV_NAMES.filter((name) => !envSchema.shape[name].safeParse(undefined).success);
/** End of life of the Node LTS lines (https://github.com/nodejs/Release). */
const NODE_LTS_END_OF_LIFE: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30', 26: '2029-04-30' };

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.trimEnd().endsWith('\\')) {
      pending += `${line.trimEnd().slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical.map((l) => l.trim()).filter(Boolean)) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${keyword} before the first FROM`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const words = (args: string): string[] => (args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/));
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);

describe('Dockerfile (infra/Dockerfile)', () => {
  const stages = parseDockerfile(read('infra/Dockerfile'));
  const buildStage = stages[0]!;
  const runtime = stages.at(-1)!;

  it('has a build stage and a runtime stage on one supported Node LTS line that package.json allows', () => {
    expect(stages).toHaveLength(2);
    expect(buildStage.name, 'the build stage is named, for COPY --from').toBeDefined();
    const majors = new Set(stages.map((stage) => /^node:(\d+)[-.]/.exec(stage.from)?.[1]));
    expect(majors.size, 'both stages use the same node image line').toBe(1);
    const major = Number([...majors][0]);
    const endOfLife = NODE_LTS_END_OF_LIFE[major];
    expect(endOfLife, `node:${major} is not an LTS line (even major) this test knows`).toBeDefined();
    // Fails the day the line reaches its end of life: move the image to the next LTS line.
    expect(new Date() < new Date(endOfLife!), `Node ${major} reached its end of life on ${endOfLife}`).toBe(true);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    // Each alternative of the range is "^A.B.C" (line A) or ">=A.B.C" (line A and later).
    const alternatives = engines.split('||').map((part) => /^\s*(\^|>=)\s*(\d+)/.exec(part));
    expect(alternatives.every(Boolean), `the test reads only "^A.B.C" and ">=A.B.C" alternatives, not ${engines}`).toBe(true);
    const allows = alternatives.some((m) => (m![1] === '^' ? major === Number(m![2]) : major >= Number(m![2])));
    expect(allows, `the image's Node ${major} must satisfy package.json engines ${engines}`).toBe(true);
  });

  it('builds the bundle from the lock file: npm ci, then npm run build', () => {
    const runs = all(buildStage, 'RUN').map((i) => i.args);
    const ci = runs.findIndex((r) => /\bnpm ci\b/.test(r));
    const bundle = runs.findIndex((r) => /\bnpm run build\b/.test(r));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(bundle).toBeGreaterThan(ci);
  });

  it('copies only the bundle, its source map and the shipped templates into the runtime stage, from the build stage', () => {
    expect(all(runtime, 'ADD')).toEqual([]);
    const buildDir = last(buildStage, 'WORKDIR')?.args ?? '/';
    const sources = all(runtime, 'COPY').flatMap((copy) => {
      const parts = words(copy.args);
      expect(parts.filter((p) => p.startsWith('--'))).toEqual([`--from=${buildStage.name}`]);
      return parts.filter((p) => !p.startsWith('--')).slice(0, -1);
    });
    expect(sources.map((s) => path.posix.relative(buildDir, s)).sort()).toEqual(['dist/runner.js', 'dist/runner.js.map', 'templates']);
  });

  it('starts node dist/runner.js under tini (exec form, no shell), so an early SIGTERM is not lost', () => {
    const entrypoint = last(runtime, 'ENTRYPOINT');
    expect(entrypoint?.args.startsWith('['), 'ENTRYPOINT must be in exec form').toBe(true);
    const init = JSON.parse(entrypoint!.args) as string[];
    expect(init, 'tini runs the CMD as its child and forwards signals to it').toEqual(['/usr/bin/tini', '--']);
    const installs = all(runtime, 'RUN').map((i) => i.args).join(' ');
    expect(installs, 'the runtime stage installs tini from Debian').toMatch(/apt-get install[^&]*\btini\b/);
    const cmd = last(runtime, 'CMD');
    expect(cmd?.args.startsWith('['), 'CMD must be in exec form: the shell form puts sh between tini and node').toBe(true);
    const command = JSON.parse(cmd!.args) as string[];
    expect(command).toEqual(['node', 'dist/runner.js']);
    // The script CMD names is the file the COPY put there.
    const workdir = last(runtime, 'WORKDIR')?.args ?? '/';
    const copy = words(all(runtime, 'COPY')[0]!.args).filter((p) => !p.startsWith('--'));
    const destination = path.posix.resolve(workdir, copy.at(-1)!);
    const copied = copy.slice(0, -1).map((source) => path.posix.join(destination, path.posix.basename(source)));
    expect(copied).toContain(path.posix.resolve(workdir, command[1]!));
  });

  it('runs as a non-root user in production mode', () => {
    const user = last(runtime, 'USER')?.args;
    expect(user, 'the runtime stage must set USER').toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    const env = all(runtime, 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bNODE_ENV=production\b/);
  });

  it('bakes in no configuration and no secrets', () => {
    const problems: string[] = [];
    for (const stage of stages) {
      for (const { keyword, args } of stage.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
        for (const [, name = ''] of args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g)) {
          if ((ENV_NAMES as string[]).includes(name)) problems.push(`${keyword} ${name}: worker settings come from the platform, not the image`);
          if (/SECRET|TOKEN|PASSWORD|PRIVATE|CREDENTIAL|_KEY\b/i.test(name)) problems.push(`${keyword} ${name} looks like a secret`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// .dockerignore
// ---------------------------------------------------------------------------------------------

/** Docker's rule: the last pattern matching the path or one of its parent folders decides. */
function dockerignore(text: string): (file: string) => boolean {
  const patterns = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const exclude = line.startsWith('!');
      const glob = (exclude ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { exclude, regex: new RegExp(`^${source}$`) };
    });
  return (file) => {
    const parts = file.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const { exclude, regex } of patterns) {
      if (candidates.some((candidate) => regex.test(candidate))) ignored = !exclude;
    }
    return ignored;
  };
}

/** The entry point and externals of esbuild.config.mjs, read from its source. */
function bundleOptions(): { entryPoints: string[]; external: string[] } {
  const config = read('esbuild.config.mjs');
  const list = (key: string) => {
    const body = new RegExp(`${key}:\\s*\\[([^\\]]*)\\]`).exec(config)?.[1];
    if (body === undefined) throw new Error(`esbuild.config.mjs has no ${key}: [...] the test can read`);
    return [...body.matchAll(/['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  };
  return { entryPoints: list('entryPoints'), external: list('external') };
}

describe('.dockerignore', () => {
  const ignored = dockerignore(read('.dockerignore'));

  it('keeps every file the bundle is built from, and the files npm ci and esbuild read', async () => {
    const { entryPoints, external } = bundleOptions();
    const result = await build({
      absWorkingDir: root,
      entryPoints,
      external,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    // Dependencies may sit outside the repository (a symlinked node_modules shows as ../…/node_modules/).
    const sources = Object.keys(result.metafile.inputs).filter((file) => !file.split('/').includes('node_modules'));
    expect(sources.length).toBeGreaterThan(0);
    const needed = [...sources, 'package.json', 'package-lock.json', 'esbuild.config.mjs', 'tsconfig.json'];
    const dropped = needed.filter(ignored);
    expect(dropped, `.dockerignore leaves out files the build needs: re-include them with !<folder>`).toEqual([]);
  });

  it('leaves out what must never reach the image: git, dependencies, build output, env files and keys', () => {
    const neverSent = ['.git/config', 'node_modules/zod/package.json', 'dist/runner.js', '.env', 'lib/.env.local', 'certs/client.pem', 'lib/dev.key', 'test/global-setup.ts'];
    expect(neverSent.filter((file) => !ignored(file))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The image's file layout: the runtime stage's files alone in an empty folder, started with its
// CMD and ENV.
// ---------------------------------------------------------------------------------------------

describe('the bundle alone in an empty folder, as the image holds it', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'comfyui-worker-image-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('exits with code 2 and names every missing required variable, without a stack trace', () => {
    const runtime = parseDockerfile(read('infra/Dockerfile')).at(-1)!;
    const command = JSON.parse(last(runtime, 'CMD')!.args) as string[];
    const imageEnv = Object.fromEntries(
      all(runtime, 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
    );
    // WORKDIR is the folder; the bundle and its map go where the COPY puts them.
    const workdir = last(runtime, 'WORKDIR')?.args ?? '/';
    const copy = words(all(runtime, 'COPY')[0]!.args).filter((p) => !p.startsWith('--'));
    const destination = path.posix.relative(workdir, path.posix.resolve(workdir, copy.at(-1)!));
    mkdirSync(path.join(folder, destination), { recursive: true });
    for (const source of copy.slice(0, -1)) {
      const built = path.join(root, 'dist', path.posix.basename(source));
      expect(existsSync(built), `${built} is missing: the vitest globalSetup builds it`).toBe(true);
      copyFileSync(built, path.join(folder, destination, path.posix.basename(source)));
    }

    // The image's environment: its ENV lines and nothing of this machine's worker settings.
    const [program, ...args] = command;
    expect(program).toBe('node');
    const result = spawnSync(process.env.TEST_WORKER_NODE || process.execPath, args, {
      cwd: folder,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...imageEnv },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    expect(result.status, output).toBe(2);
    for (const name of REQUIRED) expect(result.stderr, `stderr should name ${name}\n${output}`).toContain(name);
    expect(result.stderr, 'a configuration error is a message, not a crash').not.toMatch(/^\s+at\s/m);
  });
});
