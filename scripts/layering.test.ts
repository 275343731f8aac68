// The package table of DESIGN.md, checked: a package imports only the packages below it,
// and the Raft core imports nothing at all (no node:*, no other package, no clock).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const mayImport: Record<string, readonly string[]> = {
  actor: [],
  raft: ['actor'],
  store: ['raft', 'actor'],
  api: ['actor'],
  apiserver: ['api', 'store', 'actor'],
  controllers: ['api', 'actor'],
  agent: ['api', 'actor'],
  cli: ['actor', 'raft', 'store', 'api', 'apiserver', 'controllers', 'agent'],
  testkit: ['actor', 'raft', 'store', 'api', 'apiserver', 'controllers', 'agent'],
};

function files(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e === 'node_modules') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(importRe)].map((m) => m[1] ?? m[2]!);
}

describe('package layering (DESIGN.md)', () => {
  it('every package imports only packages below it; tests may also use testkit', () => {
    const violations: string[] = [];
    for (const [pkg, allowed] of Object.entries(mayImport)) {
      for (const file of files(join(root, 'packages', pkg))) {
        const isTest = /\.test\.ts$/.test(file) || file.includes('/test/');
        for (const spec of imports(file)) {
          const m = /^@flotilla\/([^/]+)/.exec(spec);
          if (!m || m[1] === pkg) continue;
          const target = m[1]!;
          if (allowed.includes(target) || (isTest && target === 'testkit')) continue;
          violations.push(`${relative(root, file)} imports @flotilla/${target}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the Raft core imports nothing but itself and reads no clock or randomness', () => {
    const violations: string[] = [];
    // Tests of the core may import their runner; the core itself may not.
    for (const file of files(join(root, 'packages/raft/src/core')).filter((f) => !f.endsWith('.test.ts'))) {
      for (const spec of imports(file)) {
        if (!spec.startsWith('./') && !spec.startsWith('../'))
          violations.push(`${relative(root, file)} imports ${spec}`);
      }
      const text = readFileSync(file, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      for (const banned of [
        'Date.now',
        'new Date',
        'Math.random',
        'performance.now',
        'setTimeout',
        'setInterval',
        'await ',
        'process.',
      ]) {
        if (text.includes(banned)) violations.push(`${relative(root, file)} uses ${banned}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
