// Messages are plain data that survive msgpack unchanged: every message a simulated run
// produces is encoded, decoded, validated again and compared.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { checkMessage, type Message } from '../../src/core/index.ts';
import { Cluster } from '../harness.ts';

function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return { bytes: [...x] };
  if (Array.isArray(x)) return x.map(plain);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (v === undefined) throw new Error(`field ${k} is undefined`);
      out[k] = plain(v);
    }
    if (Object.getPrototypeOf(x) !== Object.prototype) throw new Error('not a plain object');
    return out;
  }
  return x;
}

describe('messages', () => {
  it('every message type survives msgpack unchanged and still validates', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c'], { config: { maxMessageBytes: 64 } });
    c.elect('a');
    for (let i = 0; i < 5; i++) c.propose('b', `p${i}`);
    c.raft('b').readIndex('rb');
    c.stabilize();
    c.isolate('c');
    for (let i = 0; i < 5; i++) c.propose('a', `q${i}`);
    c.stabilize();
    c.compact('a');
    c.heal();
    c.tick('a');
    c.stabilize();
    c.raft('a').transferLeader('c');
    c.stabilize();
    // The options of the actor codec, which the transport uses.
    const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
    const types = new Set<string>();
    for (const m of [...c.delivered, ...c.dropped]) {
      types.add(m.type);
      const back = packr.unpack(packr.pack(m)) as Message;
      expect(checkMessage(back, m.to), m.type).toBeNull();
      expect(plain(back)).toEqual(plain(m));
    }
    expect([...types].sort()).toEqual(
      [
        'append',
        'appendResp',
        'heartbeat',
        'heartbeatResp',
        'preVote',
        'preVoteResp',
        'propose',
        'readIndex',
        'readIndexResp',
        'snapshot',
        'timeoutNow',
        'vote',
        'voteResp',
      ].sort(),
    );
  });
});
