import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, hostname, release } from 'node:os';
import { imageArchitecture } from '../images/local-images.ts';

/** The facts about the machine a Node's status is built from (cadvisor's MachineInfo, in short). */
export type MachineInfo = {
  readonly cpuCores: number;
  readonly memoryBytes: number;
  /** Size of the filesystem holding the agent's data (pods' writable layers, logs, emptyDirs). */
  readonly ephemeralStorageBytes: number;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly operatingSystem: string;
  readonly architecture: string;
  readonly machineID: string;
  readonly systemUUID: string;
  readonly bootID: string;
  readonly hostname: string;
};

async function readTrimmed(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** MemTotal of /proc/meminfo, in bytes. */
export function memTotalBytes(meminfo: string): number {
  const m = /^MemTotal:\s+(\d+)\s+kB$/m.exec(meminfo);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** PRETTY_NAME of /etc/os-release. */
export function osPrettyName(osRelease: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (m === null) return 'Linux';
  const v = (m[1] ?? '').trim();
  return v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Reads the machine's facts; `dataDir` names the filesystem whose size is the node's ephemeral storage. */
export async function readMachineInfo(dataDir: string): Promise<MachineInfo> {
  const [meminfo, osRelease, machineID, systemUUID, bootID, fs] = await Promise.all([
    readTrimmed('/proc/meminfo'),
    readTrimmed('/etc/os-release'),
    readTrimmed('/etc/machine-id'),
    readTrimmed('/sys/class/dmi/id/product_uuid'),
    readTrimmed('/proc/sys/kernel/random/boot_id'),
    statfs(dataDir).catch(() => undefined),
  ]);
  return {
    cpuCores: availableParallelism(),
    memoryBytes: memTotalBytes(meminfo),
    ephemeralStorageBytes: fs === undefined ? 0 : fs.blocks * fs.bsize,
    kernelVersion: release(),
    osImage: osPrettyName(osRelease),
    operatingSystem: 'linux',
    architecture: imageArchitecture(),
    machineID,
    systemUUID,
    bootID,
    hostname: hostname(),
  };
}
