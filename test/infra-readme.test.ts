// The README's configuration table lists every variable of lib/config.ts, and nothing else, and each
// row states the rules lib/config.ts enforces for it. Adding a variable to the schema fails this test
// until the table has a row for it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENV_NAMES, statedRules } from '../lib/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = path.join(root, 'README.md');

/**
 * The rows of the table under the heading that contains "Configuration", down to the next heading
 * of the same or a higher level, keyed by the variable names in each row's first cell.
 */
function configurationRows(markdown: string): Map<string, string> | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => /^#{1,6}\s.*configuration/i.test(line));
  if (start < 0) return undefined;
  const level = /^(#+)/.exec(lines[start]!)![1]!.length;
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    const heading = /^(#+)\s/.exec(line);
    if (heading && heading[1]!.length <= level) break;
    if (!line.trimStart().startsWith('|')) continue;
    const firstCell = line.trim().split('|')[1] ?? '';
    for (const [, name] of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) rows.set(name!, line);
  }
  return rows;
}

const rows = () => {
  expect(existsSync(readmePath), 'README.md does not exist yet').toBe(true);
  const found = configurationRows(readFileSync(readmePath, 'utf8'));
  expect(found, 'README.md has no "Configuration" section with a table whose first column is `VARIABLE`').toBeDefined();
  return found!;
};

describe('README.md configuration table', () => {
  it('has a row for every variable in lib/config.ts and none for a variable it does not read', () => {
    const listed = rows();
    const missing = ENV_NAMES.filter((name) => !listed.has(name));
    expect(missing, `README.md's configuration table has no row for: ${missing.join(', ')}`).toEqual([]);
    const stale = [...listed.keys()].filter((name) => !(ENV_NAMES as string[]).includes(name));
    expect(stale, `README.md's configuration table lists variables lib/config.ts does not read: ${stale.join(', ')}`).toEqual([]);
  });

  it('states in each row the rules lib/config.ts enforces for that variable', () => {
    const listed = rows();
    const unstated = ENV_NAMES.flatMap((name) => statedRules(name).filter((rule) => !listed.get(name)?.includes(rule)).map((rule) => `${name}: ${rule}`));
    expect(unstated, `README.md's configuration table does not state:\n${unstated.join('\n')}`).toEqual([]);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-');

describe('links between the README and the deploy guides', () => {
  it('point at headings that exist', () => {
    const sources = ['README.md', 'docs/deploy-aws.md', 'docs/deploy-gcp.md'];
    const broken: string[] = [];
    let checked = 0;
    for (const source of sources) {
      const text = readFileSync(path.join(root, source), 'utf8');
      for (const [, target, anchor] of text.matchAll(/\]\(((?:\.\.\/|docs\/)?(?:README|deploy-[a-z]+)\.md)#([^)]+)\)/g)) {
        const file = path.join(root, path.dirname(source), target!);
        const headings = readFileSync(file, 'utf8').split('\n').filter((line) => /^#{1,6}\s/.test(line)).map((line) => anchorOf(line.replace(/^#+/, '')));
        checked++;
        if (!headings.includes(anchor!)) broken.push(`${source}: ${target}#${anchor}`);
      }
    }
    expect(checked, 'the README links to the guides and they link back').toBeGreaterThanOrEqual(6);
    expect(broken).toEqual([]);
  });
});
