// pnpm sim — run the Raft core through the deterministic simulator.
//
//   pnpm sim --seeds 500            seeds 1..500 (or --from S to start elsewhere)
//   pnpm sim --seed 42              replay one seed exactly, with a readable trace if it fails
//   pnpm sim --seed 42 --trace      ... and print the trace even if it passes
//   pnpm sim --steps 8000           events per seed with faults on (default below)
//   pnpm sim --broken voteBeforePersist --seeds 200   hunt with a deliberately broken core
import { type BrokenVariant, brokenVariants } from '../src/core/index.ts';
import { defaultSteps, livenessBoundTicks, runSimulation, type SimResult } from './simulation.ts';

interface Args {
  seeds: number;
  from: number;
  seed: number | null;
  steps: number;
  broken: BrokenVariant | undefined;
  trace: boolean;
  traceLines: number;
}

function usage(problem: string): never {
  console.error(`pnpm sim: ${problem}`);
  console.error(
    'usage: pnpm sim [--seeds N] [--from S] [--seed S] [--steps K] [--broken VARIANT] [--trace] [--trace-lines N]',
  );
  console.error(`variants: ${brokenVariants.join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: 100,
    from: 1,
    seed: null,
    steps: defaultSteps,
    broken: undefined,
    trace: false,
    traceLines: 200,
  };
  const count = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n) || n < 0)
      usage(`${flag} needs a non-negative integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--seeds':
        args.seeds = count(flag, argv[++i]);
        break;
      case '--from':
        args.from = count(flag, argv[++i]);
        break;
      case '--seed':
        args.seed = count(flag, argv[++i]);
        break;
      case '--steps':
        args.steps = count(flag, argv[++i]);
        break;
      case '--trace-lines':
        args.traceLines = count(flag, argv[++i]);
        break;
      case '--trace':
        args.trace = true;
        break;
      case '--broken': {
        const v = argv[++i];
        if (!brokenVariants.includes(v as BrokenVariant)) usage(`unknown variant ${String(v)}`);
        args.broken = v as BrokenVariant;
        break;
      }
      case '--':
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  return args;
}

function printFailure(r: SimResult): void {
  console.log(`\nseed ${r.seed} FAILED (${r.profile})`);
  for (const v of r.violations) console.log(`  ${v.property}: ${v.detail}`);
}

const args = parseArgs(process.argv.slice(2));
const seeds = args.seed === null ? Array.from({ length: args.seeds }, (_, i) => args.from + i) : [args.seed];
const t0 = performance.now();
const totals = {
  events: 0,
  elections: 0,
  commits: 0,
  proposals: 0,
  reads: 0,
  snapshots: 0,
  crashes: 0,
  confChanges: 0,
  transfers: 0,
};
let maxLiveness = 0;
let slowestSeed = 0;
const failed: SimResult[] = [];
for (const seed of seeds) {
  const r = runSimulation({
    seed,
    steps: args.steps,
    ...(args.broken === undefined ? {} : { brokenVariant: args.broken }),
    trace: args.seed !== null,
    traceLines: args.traceLines,
  });
  totals.events += r.events;
  totals.elections += r.elections;
  totals.commits += r.commits;
  totals.proposals += r.proposals;
  totals.reads += r.readsChecked;
  totals.snapshots += r.snapshotsInstalled;
  totals.crashes += r.crashes;
  totals.confChanges += r.confChanges;
  totals.transfers += r.transfers;
  if (r.livenessTicks !== null && r.livenessTicks > maxLiveness) {
    maxLiveness = r.livenessTicks;
    slowestSeed = seed;
  }
  if (r.violations.length > 0) {
    failed.push(r);
    if (args.seed === null) printFailure(r);
  }
  if (args.seed !== null && (args.trace || r.violations.length > 0)) {
    console.log(`trace of seed ${seed} (last ${r.trace.length} lines; time in units, a tick is ~100):`);
    for (const line of r.trace) console.log(line);
  }
  if (args.seed !== null && r.violations.length > 0) printFailure(r);
}
const seconds = (performance.now() - t0) / 1000;

console.log(
  [
    `seeds ${seeds.length} (${seeds[0]}..${seeds[seeds.length - 1]})${args.broken ? `  broken variant: ${args.broken}` : ''}`,
    `steps ${args.steps} per seed with faults, ${totals.events} events in all`,
    `elections ${totals.elections}  commits ${totals.commits}  proposals ${totals.proposals}  reads checked ${totals.reads}`,
    `snapshots installed ${totals.snapshots}  crashes ${totals.crashes}  membership changes ${totals.confChanges}  transfers ${totals.transfers}`,
    `liveness: slowest convergence ${maxLiveness} ticks after faults stopped, seed ${slowestSeed} (bound ${livenessBoundTicks})`,
    `violations ${failed.reduce((n, r) => n + r.violations.length, 0)} in ${failed.length} seed(s)${failed.length > 0 ? `: ${failed.map((r) => r.seed).join(', ')}` : ''}`,
    `${seconds.toFixed(1)} s`,
  ].join('\n'),
);
if (failed.length > 0) {
  if (args.seed === null) console.log(`replay one with: pnpm sim --seed ${failed[0]!.seed}`);
  process.exit(1);
}
