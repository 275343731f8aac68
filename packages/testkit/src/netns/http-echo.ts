import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaError, sleep } from '@flotilla/actor';
import { ManagedProcess } from '../process.ts';
import { tempDir } from '../tmp.ts';
import type { NetnsPod } from './netns-cluster.ts';

/** How long an echo server may take to answer its first request. */
const echoStartTimeoutMs = 10_000;
const echoStartPollMs = 50;

export class EchoServerError extends FlotillaError {
  constructor(message: string) {
    super('EchoServer', message);
  }
}

/**
 * busybox httpd in the pod, answering `GET /cgi-bin/who` with one line: the pod's name
 * and the address the request came from (the CGI's REMOTE_ADDR, without the
 * IPv4-mapped prefix). What a test needs to see which endpoint answered and whether the
 * client's address survived the trip.
 */
export async function startHttpEcho(pod: NetnsPod, port = 80): Promise<ManagedProcess> {
  const root = join(tempDir(`echo-${pod.name}`), 'www');
  mkdirSync(join(root, 'cgi-bin'), { recursive: true });
  const script = join(root, 'cgi-bin', 'who');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'echo "Content-Type: text/plain"',
      'echo',
      // busybox httpd listens on IPv6 and writes IPv4 peers as [::ffff:a.b.c.d].
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      'peer=${REMOTE_ADDR#[}; peer=${peer%]}; peer=${peer#::ffff:}',
      `echo "${pod.name} $peer"`,
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const server = new ManagedProcess({
    name: `httpd ${pod.name}`,
    command: 'ip',
    args: ['netns', 'exec', pod.netns, 'busybox', 'httpd', '-f', '-p', String(port), '-h', root],
    logFile: join(root, '..', 'httpd.log'),
  }).start();
  const deadline = Date.now() + echoStartTimeoutMs;
  for (;;) {
    const [line] = await pod.fetchMany(`http://127.0.0.1:${port}/cgi-bin/who`, 1);
    if (line?.startsWith(`${pod.name} `)) return server;
    if (!server.running || Date.now() > deadline) {
      await server.kill();
      throw new EchoServerError(`httpd in ${pod.name} did not answer within ${echoStartTimeoutMs} ms`);
    }
    await sleep(echoStartPollMs);
  }
}

/** Parses echo lines into counts per answering pod and the client addresses each saw. */
export function tallyEcho(lines: readonly string[]): {
  readonly byPod: ReadonlyMap<string, number>;
  readonly sources: ReadonlySet<string>;
  readonly failures: number;
} {
  const byPod = new Map<string, number>();
  const sources = new Set<string>();
  let failures = 0;
  for (const line of lines) {
    const [pod, source] = line.split(' ');
    if (line === 'FAIL' || pod === undefined || source === undefined) {
      failures += 1;
      continue;
    }
    byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
    sources.add(source);
  }
  return { byPod, sources, failures };
}
