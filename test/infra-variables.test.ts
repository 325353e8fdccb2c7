// Every file in infra/ and docs/ and the README, the prose included, against the worker's variables.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesUnder, infra, isKnown, root } from './support/infra-manifest.js';

describe('infra/ as a whole', () => {
  it('names only variables the worker knows, in templates, scripts, the guides and the README alike', () => {
    const strays: string[] = [];
    for (const file of [...filesUnder(infra), ...filesUnder(path.join(root, 'docs')), path.join(root, 'README.md')]) {
      for (const [name] of readFileSync(file, 'utf8').matchAll(/\b(?:COMFYUI|LHW|LHC)_[A-Z0-9_]+\b/g)) {
        if (!isKnown(name)) strays.push(`${path.relative(root, file)}: ${name}`);
      }
    }
    expect(strays, 'a renamed or removed variable is still named here').toEqual([]);
  });
});
