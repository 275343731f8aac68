import { describe, expect, it } from 'vitest';
import { applyConfChange, checkConfChange, decodeConfEntry, encodeConfEntry } from '../../src/core/index.ts';

const abc = { voters: ['a', 'b', 'c'], learners: [] };

describe('membership changes', () => {
  it('apply one change at a time, keeping ids sorted', () => {
    const withD = applyConfChange(abc, { type: 'addLearner', node: 'd' });
    expect(withD).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(applyConfChange(withD, { type: 'promote', node: 'd' })).toEqual({
      voters: ['a', 'b', 'c', 'd'],
      learners: [],
    });
    expect(applyConfChange(abc, { type: 'remove', node: 'b' })).toEqual({ voters: ['a', 'c'], learners: [] });
    expect(applyConfChange(abc, { type: 'addVoter', node: '0' })).toEqual({
      voters: ['0', 'a', 'b', 'c'],
      learners: [],
    });
  });

  it('check names what is wrong with a change', () => {
    expect(checkConfChange(abc, { type: 'addLearner', node: 'a' })).toBe('a is already a voter');
    expect(checkConfChange(abc, { type: 'promote', node: 'a' })).toBe('a is not a learner');
    expect(checkConfChange({ voters: ['a'], learners: [] }, { type: 'remove', node: 'a' })).toBe(
      'a is the last voter',
    );
    expect(checkConfChange(abc, { type: 'remove', node: 'a' })).toBeNull();
  });

  it('a conf entry round-trips and is plain JSON text', () => {
    const data = encodeConfEntry({
      change: { type: 'addLearner', node: 'd' },
      conf: { voters: ['c', 'a', 'b'], learners: ['d'] },
    });
    expect(new TextDecoder().decode(data)).toBe(
      '{"change":{"type":"addLearner","node":"d"},"conf":{"voters":["a","b","c"],"learners":["d"]}}',
    );
    expect(decodeConfEntry(data)).toEqual({
      change: { type: 'addLearner', node: 'd' },
      conf: { voters: ['a', 'b', 'c'], learners: ['d'] },
    });
  });

  it('anything else decodes to null', () => {
    const bad = [
      '',
      '{',
      '[]',
      '{"change":{"type":"addLearner","node":"d"}}',
      '{"change":{"type":"x"},"conf":{"voters":["a"],"learners":[]}}',
      '{"change":{"type":"bootstrap"},"conf":{"voters":["a","a"],"learners":[]}}',
      '{"change":{"type":"bootstrap"},"conf":{"voters":[],"learners":[]}}',
    ];
    for (const text of bad) expect(decodeConfEntry(new TextEncoder().encode(text)), text).toBeNull();
    expect(decodeConfEntry(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });
});
