import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const functions = path.resolve(import.meta.dirname, '../functions');

describe('the functional core', () => {
  it('imports nothing from lib/ (core ← adapters, never the other way)', () => {
    const files = readdirSync(functions, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const offending = files.flatMap((file) =>
      [...readFileSync(path.join(functions, file), 'utf8').matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)]
        .map(([, source]) => source!)
        .filter((source) => source.startsWith('.') && path.resolve(functions, path.dirname(file), source).startsWith(path.resolve(functions, '../lib')))
        .map((source) => `functions/${file} imports ${source}`),
    );
    expect(files.length).toBeGreaterThan(10);
    expect(offending).toEqual([]);
  });
});
