import { silentLogger, sleep } from '@flotilla/actor';
import type { PodStatus } from '@flotilla/api';
import { describe, expect, test } from 'vitest';
import { FakeNode } from './fake-node.ts';
import { InMemoryObjectLookup, InMemoryPodSource } from './kubelet/pod-source.ts';

const nodes = 100;
const podsPerNode = 3;

// KWOK-style simulated nodes: the real kubelet logic, no processes. Hundreds fit in
// one process; this runs a hundred with a few pods each and checks they all run.
describe('FakeNode', () => {
  test(`${nodes} fake nodes with ${podsPerNode} pods each in one process: every pod Running and Ready`, async () => {
    const ready = new Set<string>();
    const fakes: FakeNode[] = [];
    const heapBefore = process.memoryUsage().heapUsed;
    for (let n = 0; n < nodes; n++) {
      const source = new InMemoryPodSource();
      const node = new FakeNode({
        nodeName: `fake-${n}`,
        podCIDR: `10.100.${n}.0/24`,
        hostIP: `192.0.2.${n + 1}`,
        source,
        lookup: new InMemoryObjectLookup(),
        logger: silentLogger(),
        delays: { runSandboxMs: 5, startContainerMs: 5 },
        statusSink: {
          podStatus: (ref, s: PodStatus) => {
            if (s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.add(ref.uid);
          },
          podTerminated: () => {},
        },
      });
      fakes.push(node);
      node.start();
      for (let p = 0; p < podsPerNode; p++) {
        source.add({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `p${p}`, namespace: 'default', uid: `n${n}-p${p}` },
          spec: {
            nodeName: `fake-${n}`,
            containers: [
              { name: 'c', image: 'nginx:1.25', readinessProbe: { httpGet: { port: 80 }, periodSeconds: 1 } },
            ],
          },
        });
      }
      source.synced();
    }
    const deadline = Date.now() + 20_000;
    while (ready.size < nodes * podsPerNode && Date.now() < deadline) await sleep(50);
    expect(ready.size).toBe(nodes * podsPerNode);
    const status = await fakes[0]!.nodeStatus();
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(status.capacity?.pods).toBe('110');
    // Cheap: well under a megabyte of heap per node.
    expect((process.memoryUsage().heapUsed - heapBefore) / nodes).toBeLessThan(1024 * 1024);
    await Promise.all(fakes.map((f) => f.stop()));
  });
});
