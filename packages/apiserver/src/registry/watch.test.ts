import type { ConfigMap, KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { linearizable, serializable } from '../storage/object-store.ts';
import { watchEventOf, watchStart } from './watch.ts';

const cm = (labels: Record<string, string>, rv: string): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'default', labels, resourceVersion: rv },
});
const front = (o: KubeObject) => o.metadata.labels?.tier === 'front';

describe('watchStart', () => {
  it('follows the resourceVersion table of Kubernetes watches', () => {
    expect(watchStart({})).toEqual({ kind: 'initial', mode: linearizable, atLeast: undefined });
    expect(watchStart({ resourceVersion: '0' })).toEqual({
      kind: 'initial',
      mode: serializable,
      atLeast: undefined,
    });
    expect(watchStart({ resourceVersion: '17' })).toEqual({ kind: 'after', revision: 17 });
    expect(watchStart({ resourceVersion: '17', sendInitialEvents: true })).toEqual({
      kind: 'initial',
      mode: linearizable,
      atLeast: 17,
    });
    expect(watchStart({ sendInitialEvents: false })).toEqual({ kind: 'now' });
    expect(() => watchStart({ resourceVersion: 'abc' })).toThrow(/invalid resource version/);
  });
});

describe('watchEventOf', () => {
  it('sends changes inside the selection as they are', () => {
    expect(watchEventOf(front, cm({ tier: 'front' }, '5'), undefined, 5)?.type).toBe('ADDED');
    expect(watchEventOf(front, cm({ tier: 'front' }, '6'), cm({ tier: 'front' }, '5'), 6)?.type).toBe(
      'MODIFIED',
    );
    expect(watchEventOf(front, undefined, cm({ tier: 'front' }, '6'), 7)).toEqual({
      type: 'DELETED',
      object: cm({ tier: 'front' }, '7'),
    });
  });

  it('turns leaving the selection into DELETED and entering it into ADDED', () => {
    const left = watchEventOf(front, cm({ tier: 'back' }, '8'), cm({ tier: 'front' }, '7'), 8);
    // The old content, at the revision of the change.
    expect(left).toEqual({ type: 'DELETED', object: cm({ tier: 'front' }, '8') });
    expect(watchEventOf(front, cm({ tier: 'front' }, '9'), cm({ tier: 'back' }, '8'), 9)?.type).toBe('ADDED');
    expect(watchEventOf(front, cm({ tier: 'back' }, '9'), cm({ tier: 'back' }, '8'), 9)).toBeUndefined();
    expect(watchEventOf(front, undefined, cm({ tier: 'back' }, '9'), 10)).toBeUndefined();
  });
});
