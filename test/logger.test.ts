import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeTestCertificates } from '../devstack/littlehorse/index.js';
import { createLogger, PrettyLogFormatter } from '../lib/logger.js';
import { stackFixture } from './support/stack-fixture.js';

const at = '2026-12-02T10:04:05.123Z';
const pretty = new PrettyLogFormatter({ color: false });

function captured(stream: NodeJS.WriteStream): string[] {
  const lines: string[] = [];
  vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}
afterEach(() => vi.restoreAllMocks());

describe('the pretty log format', () => {
  it('prints time, level, message and the event keys on one line, without the keys every line carries', () => {
    const line = pretty.line({ timestamp: at, level: 'INFO', message: 'worker ready', service: 'comfyui-worker', workerId: 'w-1', taskName: 'execute-comfyui-workflow', hosts: 1 });
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.123 INFO {2}worker ready {2}taskName=execute-comfyui-workflow hosts=1$/);
  });

  it('quotes text with spaces, shows an error by name and message, and cuts long values', () => {
    const line = pretty.line({
      timestamp: at,
      level: 'WARN',
      message: 'report failed',
      reason: 'two words',
      error: { name: 'ClientError', message: 'UNAVAILABLE: down', location: 'report.ts:12', stack: '…' },
      content: 'x'.repeat(500),
    });
    expect(line).toContain('reason="two words"');
    expect(line).toContain('error=ClientError: UNAVAILABLE: down (report.ts:12)');
    expect(line).toContain(`content=${'x'.repeat(200)}…`);
    expect(line).not.toContain('\n');
  });

  it('is what a logger on a terminal prints, the level in colour, INFO on stdout and WARN on stderr', () => {
    const out = captured(process.stdout);
    const err = captured(process.stderr);
    const logger = createLogger({ level: 'INFO', workerId: 'w-1', terminal: true });
    logger.info('worker ready', { hosts: 1 });
    logger.warn('slow', { waitedMs: 10 });
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('\x1b[36mINFO \x1b[0m');
    expect(stripVTControlCharacters(out[0]!)).toMatch(/ INFO {2}worker ready {2}hosts=1\n$/);
    expect(stripVTControlCharacters(err[0]!)).toMatch(/ WARN {2}slow {2}waitedMs=10\n$/);
  });

  it('is chosen with LOG_FORMAT=pretty where the output is not a terminal', () => {
    const out = captured(process.stdout);
    createLogger({ level: 'INFO', format: 'pretty', terminal: false }).info('worker ready');
    expect(() => JSON.parse(out[0]!)).toThrow();
    expect(out[0]).toContain('INFO  worker ready');
  });
});

describe('the JSON log format', () => {
  it('is the default where the output is not a terminal, and wins over a terminal when asked', () => {
    const out = captured(process.stdout);
    createLogger({ level: 'INFO', workerId: 'w-1' }).info('worker ready', { hosts: 1 });
    createLogger({ level: 'INFO', format: 'json', terminal: true }).info('worker ready');
    expect(out.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { level: 'INFO', message: 'worker ready', workerId: 'w-1', hosts: 1 },
      { level: 'INFO', message: 'worker ready' },
    ]);
  });
});

describe('the log stream of the bundled worker', () => {
  const fixture = stackFixture();

  it('holds only JSON lines with TLS and an IP address as LHC_API_HOST', async () => {
    const certs = makeTestCertificates();
    const stack = await fixture.start({ lh: { tls: { cert: certs.serverCert, key: certs.serverKey } } });
    const worker = await fixture.ready({ LHC_API_PROTOCOL: 'TLS', LHC_API_HOST: '127.0.0.1', LHC_CA_CERT: certs.caPath });
    expect((await stack.lh.waitForTaskRun(stack.schedule().id)).status).toBe('TASK_SUCCESS');
    expect(worker.logs.filter((line) => line.unparsed)).toEqual([]);
  });
});
