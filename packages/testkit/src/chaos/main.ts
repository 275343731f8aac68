// `pnpm chaos --scenario NAME --duration 60s [--backend netns|containers] [--seed N]
//              [--out DIR] [--broken FAILPOINT] [--deployments] [--rate OPS] [--docker-host unix:///…] [--list]`
// Runs a fault scenario against real member processes, prints a summary and writes the
// JSON report and an SVG timeline. Exit status: 0 no violation, 1 violations, 2 usage or
// harness error. Root only (network namespaces, iptables, Docker).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, type FailpointName, isFailpointName } from '@flotilla/actor';
import { cleanupAll } from '../cleanup.ts';
import { type BackendKind, backendKinds } from '../faults/backend.ts';
import { dockerAvailability, startDockerd } from '../faults/containers/docker.ts';
import { parseDuration } from './duration.ts';
import { formatSummary } from './report.ts';
import { runChaos, writeReport } from './run.ts';
import { scenarioNamed, scenarios } from './scenarios.ts';

const usage = `usage: pnpm chaos --scenario NAME|all --duration 60s [--backend netns|containers] [--seed N]
                  [--out DIR] [--broken store.ackBeforeSync|store.readWithoutReadIndex] [--deployments] [--rate OPS]
                  [--docker-host unix:///path/docker.sock] [--list]`;

// The CLI's own output (the lint rule against console is for library code).
const print = (text: string) => process.stdout.write(`${text}\n`);
const printError = (text: unknown) => process.stderr.write(`${String(text)}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      duration: { type: 'string', default: '60s' },
      backend: { type: 'string', default: 'netns' },
      seed: { type: 'string' },
      out: { type: 'string', default: 'chaos-reports' },
      broken: { type: 'string' },
      deployments: { type: 'boolean', default: false },
      rate: { type: 'string' },
      'docker-host': { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    print(usage);
    return 0;
  }
  if (values.list) {
    for (const s of scenarios) print(`${s.name.padEnd(24)} ${s.summary}`);
    return 0;
  }
  if (!values.scenario) {
    printError(usage);
    return 2;
  }
  const backend = values.backend as BackendKind;
  if (!backendKinds.includes(backend))
    throw new RangeError(`--backend must be one of ${backendKinds.join(', ')}`);
  if (process.getuid?.() !== 0)
    throw new Error('chaos runs need root (network namespaces, iptables, Docker)');
  const chosen = values.scenario === 'all' ? scenarios : [scenarioNamed(values.scenario)];
  const durationMs = parseDuration(values.duration);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0))
    throw new RangeError(`--rate must be a positive number, not ${values.rate}`);
  let broken: FailpointName | undefined;
  if (values.broken !== undefined) {
    if (!isFailpointName(values.broken) || !values.broken.startsWith('store.'))
      throw new RangeError(`--broken takes store.ackBeforeSync or store.readWithoutReadIndex`);
    broken = values.broken;
  }
  const log = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? 'warn' });

  let dockerHost = values['docker-host'];
  let ownDockerd: Awaited<ReturnType<typeof startDockerd>> | undefined;
  if (backend === 'containers' && !(await dockerAvailability(dockerHost)).ok) {
    // No daemon given or running: start one of our own for this run (its image cache stays).
    ownDockerd = await startDockerd(join(tmpdir(), 'flotilla-chaos-dockerd'));
    dockerHost = ownDockerd.host;
  }
  let failed = false;
  try {
    for (const scenario of chosen) {
      const report = await runChaos({
        scenario,
        backend,
        durationMs,
        seed,
        log,
        cluster: { dockerHost, ...(broken && { failpoints: { [broken]: { action: { kind: 'enable' } } } }) },
        deployments: values.deployments,
        ...(rate !== undefined && { workload: { rate } }),
      });
      const files = writeReport(report, values.out);
      print(formatSummary(report));
      print(`report: ${files.json}\ntimeline: ${files.svg}\n`);
      if (!report.passed) failed = true;
    }
  } finally {
    await cleanupAll();
    await ownDockerd?.stop();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    printError(err instanceof Error ? err.message : err);
    void cleanupAll().finally(() => process.exit(2));
  },
);
