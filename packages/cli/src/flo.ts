#!/usr/bin/env node
// `flo`: bring up and operate a local Flotilla cluster.
import { Command } from 'commander';
import { floHome } from './home.ts';
import { down, isAlive, readState, up } from './local-cluster.ts';

const program = new Command('flo')
  .description('Run and operate a local Flotilla cluster')
  .showHelpAfterError();

program
  .command('up')
  .description('start a local HA cluster in the background and wait until it is healthy')
  .action(async () => {
    const home = floHome();
    const state = await up({ home, natsServers: 3, progress: (line) => console.log(line) });
    console.log(`cluster up: NATS at ${state.nats.map((s) => `127.0.0.1:${s.port}`).join(', ')}`);
    console.log(`state and logs in ${home}; stop it with: flo down`);
  });

program
  .command('down')
  .description('stop the local cluster and remove what it created')
  .action(async () => {
    const stopped = await down(floHome(), (line) => console.log(line));
    console.log(stopped ? 'cluster down' : 'no cluster was running');
  });

program
  .command('status')
  .description('show what the local cluster runs')
  .action(() => {
    const state = readState(floHome());
    if (!state) {
      console.log('no cluster (flo up starts one)');
      return;
    }
    console.log('COMPONENT  PID      ADDRESS           STATE');
    for (const s of state.nats) {
      const addr = `127.0.0.1:${s.port}`;
      console.log(
        `${s.name.padEnd(10)} ${String(s.pid).padEnd(8)} ${addr.padEnd(17)} ${isAlive(s.pid) ? 'running' : 'dead'}`,
      );
    }
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`flo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
