import type { Logger } from '@flotilla/actor';
import type { NodeStatus } from '@flotilla/api';
import type { KubeletTuning } from './containerd-node.ts';
import { Kubelet } from './kubelet/kubelet.ts';
import type { ObjectLookup, PodSource, StatusSink } from './kubelet/pod-source.ts';
import { AlwaysSucceedProber } from './kubelet/prober.ts';
import { NoVolumeManager } from './kubelet/volumes.ts';
import type { MachineInfo } from './node/machine-info.ts';
import { buildNodeStatus, nodeAllocatable } from './node/node-status.ts';
import { type FakeDelays, FakeRuntime } from './runtime/fake-runtime.ts';

export type FakeNodeOptions = KubeletTuning & {
  readonly nodeName: string;
  readonly podCIDR: string;
  readonly hostIP: string;
  readonly source: PodSource;
  readonly statusSink: StatusSink;
  readonly lookup: ObjectLookup;
  readonly logger: Logger;
  readonly delays?: Partial<FakeDelays>;
  /** The capacity the node claims (default 8 cores, 32 GiB). */
  readonly cpuCores?: number;
  readonly memoryBytes?: number;
};

/**
 * A simulated node (KWOK-style): the real kubelet logic over the fake runtime, with no
 * processes, files or network. Pods go Running and Ready after the configured delays.
 */
export class FakeNode {
  readonly runtime: FakeRuntime;
  readonly kubelet: Kubelet;
  readonly machine: MachineInfo;
  private readonly options: FakeNodeOptions;

  constructor(options: FakeNodeOptions) {
    this.options = options;
    this.runtime = new FakeRuntime({
      podCIDR: options.podCIDR,
      ...(options.delays === undefined ? {} : { delays: options.delays }),
    });
    this.machine = {
      cpuCores: options.cpuCores ?? 8,
      memoryBytes: options.memoryBytes ?? 32 * 1024 ** 3,
      ephemeralStorageBytes: 100 * 1024 ** 3,
      kernelVersion: 'fake',
      osImage: 'Flotilla fake node',
      operatingSystem: 'linux',
      architecture: 'amd64',
      machineID: options.nodeName,
      systemUUID: options.nodeName,
      bootID: options.nodeName,
      hostname: options.nodeName,
    };
    this.kubelet = new Kubelet({
      ...options,
      runtime: this.runtime,
      runtimeName: 'fake',
      volumes: new NoVolumeManager(),
      prober: new AlwaysSucceedProber(),
      podLogsDir: '/fake/pod-logs',
      hostResolvConf: options.hostResolvConf ?? { servers: [], searches: [], options: [] },
      nodeAllocatable: nodeAllocatable({
        machine: this.machine,
        runtime: { runtimeName: 'fake', runtimeVersion: '', runtimeApiVersion: '' },
        runtimeConditions: [],
        internalIP: options.hostIP,
        nowMs: 0,
      }),
    });
  }

  start(): void {
    this.kubelet.start();
  }

  async nodeStatus(previous?: NodeStatus): Promise<NodeStatus> {
    return buildNodeStatus({
      machine: this.machine,
      runtime: await this.runtime.version(),
      runtimeConditions: await this.runtime.status(),
      internalIP: this.options.hostIP,
      nowMs: Date.now(),
      ...(previous === undefined ? {} : { previous }),
    });
  }

  async stop(): Promise<void> {
    await this.kubelet.stop();
  }
}
