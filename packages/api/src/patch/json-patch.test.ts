import { describe, expect, it } from 'vitest';
import { applyJsonPatch, maxJsonPatchOperations, parsePointer } from './json-patch.ts';
import { applyMergePatch } from './merge-patch.ts';
import { PatchError, patchErrorStatus } from './patch-error.ts';

const doc = {
  metadata: { name: 'web', labels: { 'app.kubernetes.io/name': 'web' } },
  spec: { list: ['a', 'b'] },
};

function errorOf(fn: () => unknown): PatchError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PatchError) return err;
    throw err;
  }
  throw new Error('expected a PatchError');
}

describe('JSON patch', () => {
  it('adds to arrays by index and at the end with -', () => {
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/spec/list/-', value: 'c' },
      { op: 'add', path: '/spec/list/0', value: 'first' },
      { op: 'add', path: '/spec/list/4', value: 'last' },
    ]);
    expect(out).toEqual({ ...doc, spec: { list: ['first', 'a', 'b', 'c', 'last'] } });
    expect(doc.spec.list).toEqual(['a', 'b']); // the input is untouched
  });

  it('does all six operations, with escaped pointers', () => {
    const out = applyJsonPatch(doc, [
      { op: 'test', path: '/metadata/labels/app.kubernetes.io~1name', value: 'web' },
      { op: 'replace', path: '/metadata/name', value: 'api' },
      { op: 'copy', from: '/metadata/name', path: '/metadata/generateName' },
      { op: 'move', from: '/spec/list', path: '/spec/items' },
      { op: 'remove', path: '/spec/items/0' },
      { op: 'add', path: '/metadata/annotations', value: { 'a~b': '1' } },
      { op: 'test', path: '/metadata/annotations/a~0b', value: '1' },
    ]);
    expect(out).toEqual({
      metadata: {
        name: 'api',
        generateName: 'api',
        labels: { 'app.kubernetes.io/name': 'web' },
        annotations: { 'a~b': '1' },
      },
      spec: { items: ['b'] },
    });
  });

  it('replaces the whole document with an empty path', () => {
    expect(applyJsonPatch(doc, [{ op: 'replace', path: '', value: { x: 1 } }])).toEqual({ x: 1 });
  });

  it('applies all operations or none', () => {
    const err = errorOf(() =>
      applyJsonPatch(doc, [
        { op: 'replace', path: '/metadata/name', value: 'x' },
        { op: 'test', path: '/metadata/name', value: 'web' },
      ]),
    );
    expect(err.kind).toBe('failed');
    expect(err.message).toBe('operation 1 (test): testing value /metadata/name failed: it is not "web"');
    expect(doc.metadata.name).toBe('web');
  });

  it.each([
    [
      [{ op: 'remove', path: '/spec/nope' }],
      'failed',
      'operation 0 (remove): /spec/nope: the path does not exist',
    ],
    [
      [{ op: 'add', path: '/spec/list/3', value: 1 }],
      'failed',
      'operation 0 (add): /spec/list/3: index 3 is out of bounds (length 2)',
    ],
    [
      [{ op: 'add', path: '/spec/list/01', value: 1 }],
      'failed',
      'operation 0 (add): /spec/list/01: "01" is not an array index',
    ],
    [
      [{ op: 'replace', path: '/a/b', value: 1 }],
      'failed',
      'operation 0 (replace): /a/b: the path does not exist',
    ],
    [
      [{ op: 'move', from: '/spec', path: '/spec/x' }],
      'failed',
      'operation 0 (move): /spec cannot be moved into its own child /spec/x',
    ],
    [[{ op: 'add', path: 'spec' }], 'malformed', 'JSON pointer "spec" must start with \'/\''],
    [[{ op: 'add', path: '/spec' }], 'malformed', 'operation 0 (add /spec): "value" is missing'],
    [
      [{ op: 'frobnicate', path: '/spec' }],
      'malformed',
      'operation 0: unknown op "frobnicate"; expected add, remove, replace, move, copy or test',
    ],
    [{ op: 'add' }, 'malformed', 'a JSON patch must be an array of operations'],
  ])('%j fails: %s', (patch, kind, message) => {
    const err = errorOf(() => applyJsonPatch(doc, patch));
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(message);
  });

  it('bounds the number of operations', () => {
    const ops = Array.from({ length: maxJsonPatchOperations + 1 }, () => ({
      op: 'test',
      path: '',
      value: doc,
    }));
    const err = errorOf(() => applyJsonPatch(doc, ops));
    expect(err.kind).toBe('too-large');
    expect(patchErrorStatus(err).status.code).toBe(413);
  });

  it('maps errors to their Status codes', () => {
    expect(patchErrorStatus(new PatchError('malformed', 'x')).status).toMatchObject({
      code: 400,
      reason: 'BadRequest',
      message: 'x',
    });
    expect(patchErrorStatus(new PatchError('failed', 'y')).status).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: 'y',
    });
  });

  it('parses pointers per RFC 6901', () => {
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/a~1b/~0c/')).toEqual(['a/b', '~c', '']);
    expect(() => parsePointer('/a~2')).toThrow(PatchError);
  });
});

describe('JSON merge patch', () => {
  it('merges objects, deletes with null, replaces arrays', () => {
    const out = applyMergePatch(doc, {
      metadata: { labels: { 'app.kubernetes.io/name': null, x: 'y' } },
      spec: { list: ['z'] },
    });
    expect(out).toEqual({ metadata: { name: 'web', labels: { x: 'y' } }, spec: { list: ['z'] } });
  });

  it('applies what kubectl label and scale send', () => {
    const labeled = applyMergePatch(
      { metadata: { labels: { app: 'web', tier: 'fe' } } },
      { metadata: { labels: { app: null, x: 'y' } } },
    );
    expect(labeled).toEqual({ metadata: { labels: { tier: 'fe', x: 'y' } } });
    expect(applyMergePatch({ spec: { replicas: 1 } }, { spec: { replicas: 3 } })).toEqual({
      spec: { replicas: 3 },
    });
  });

  it('needs an object', () => {
    expect(errorOf(() => applyMergePatch(doc, [1])).kind).toBe('malformed');
  });
});
