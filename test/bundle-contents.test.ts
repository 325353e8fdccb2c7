import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Built by the global setup.
const bundle = () => readFileSync(path.resolve(import.meta.dirname, '../dist/runner.js'), 'utf8');

describe('the bundle', () => {
  it("keeps zod's English error messages and none of its other translations", () => {
    const text = bundle();
    expect(text).toContain('Invalid input: expected');
    expect(text).not.toContain('Eingabe: erwartet'); // German
    expect(text).not.toContain(': se esperaba'); // Spanish
  });
});
