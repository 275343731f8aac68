// A 3-member etcd cluster on loopback (Debian's etcd-server), the store's benchmark anchor.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts, ManagedProcess, tempDir } from '@flotilla/testkit';

export interface EtcdCluster {
  readonly clientUrls: readonly string[];
  readonly processes: readonly ManagedProcess[];
  stop(): Promise<void>;
}

export async function startEtcd(size = 3): Promise<EtcdCluster> {
  if (!existsSync('/usr/bin/etcd'))
    throw new Error('etcd is not installed (apt-get install etcd-server etcd-client)');
  const dir = tempDir('etcd');
  const ports = await freePorts(size * 2);
  const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[size + i]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[i]}`;
  const initial = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const processes = names.map((name, i) =>
    new ManagedProcess({
      name: `etcd-${name}`,
      command: '/usr/bin/etcd',
      args: [
        '--name',
        name,
        '--data-dir',
        join(dir, name),
        '--listen-client-urls',
        clientUrl(i),
        '--advertise-client-urls',
        clientUrl(i),
        '--listen-peer-urls',
        peerUrl(i),
        '--initial-advertise-peer-urls',
        peerUrl(i),
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'flotilla-bench',
        '--log-level',
        'warn',
      ],
      env: { ETCD_UNSUPPORTED_ARCH: '' },
      logFile: join(dir, `${name}.log`),
    }).start(),
  );
  const urls = names.map((_, i) => clientUrl(i));
  const deadline = Date.now() + 30_000;
  for (const url of urls) {
    for (;;) {
      try {
        const res = await fetch(`${url}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`etcd at ${url} not healthy in time`);
      await delay(100);
    }
  }
  return {
    clientUrls: urls,
    processes,
    stop: async () => {
      await Promise.all(processes.map((p) => p.dispose()));
    },
  };
}

/** Resident set size of a process in MiB (from /proc). */
export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
