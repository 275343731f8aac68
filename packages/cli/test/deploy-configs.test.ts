// The example files in deploy/ go through the same loaders the real processes use, so a
// renamed setting or a typo in them fails here rather than on someone's machine.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { natsServerBinary } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import { envName, settings } from '../src/config/settings.ts';
import { deployDir, readEnvFile, repoRoot } from './deploy-files.ts';

const run = promisify(execFile);
const config = (name: string) => join(deployDir, 'config', name);

describe('deploy/ example configuration', () => {
  it('server.yaml with a founding member’s environment file is a valid control-plane config', () => {
    const env = readEnvFile(config('cp1.env'));
    const c = loadConfig({ file: config('server.yaml'), env, required: ['member'] });
    expect(c.member).toBe('cp1');
    expect(c.apiserver.listen).toBe('10.0.0.11:6443');
    expect(c.store.bootstrap).toEqual(['cp1', 'cp2', 'cp3']);
    expect(c.nats.servers).toHaveLength(3);
  });

  it('agent.yaml with a worker’s environment file is a valid agent config, its ranges the server’s', () => {
    const env = readEnvFile(config('worker1.env'));
    const agent = loadConfig({ file: config('agent.yaml'), env, required: ['member', 'agent.nodeIP'] });
    const server = loadConfig({ file: config('server.yaml'), env: {} });
    expect(agent.member).toBe('worker1');
    expect(agent.agent.nodeIP).toBe('10.0.0.21');
    expect(agent.agent.runtime).toBe('containerd');
    expect(agent.cluster).toBe(server.cluster);
    expect(agent.nats.servers).toEqual(server.nats.servers);
    expect(agent.controllers.clusterCIDR).toBe(server.controllers.clusterCIDR);
    expect(agent.apiserver.serviceCIDR).toBe(server.apiserver.serviceCIDR);
  });

  it('nats-server.conf passes nats-server’s own check with a control-plane machine’s environment', async () => {
    const env = readEnvFile(config('cp1.env'));
    const { stdout, stderr } = await run(
      natsServerBinary(),
      ['-t', '-c', join(deployDir, 'nats', 'nats-server.conf')],
      { env: { ...process.env, ...env }, timeout: 10_000 },
    );
    expect(`${stdout}${stderr}`).toMatch(/configuration file .* is valid/);
  });

  it('the systemd units start flotilla and nats-server with files deploy/ provides', () => {
    const units = readdirSync(join(deployDir, 'systemd')).filter((f) => f.endsWith('.service'));
    expect(units.sort()).toEqual([
      'flotilla-agent.service',
      'flotilla-nats.service',
      'flotilla-server.service',
    ]);
    const provided = new Set([
      ...readdirSync(join(deployDir, 'config')),
      ...readdirSync(join(deployDir, 'nats')),
    ]);
    for (const unit of units) {
      const text = readFileSync(join(deployDir, 'systemd', unit), 'utf8');
      const exec = /^ExecStart=(.+)$/m.exec(text)?.[1];
      expect(exec, unit).toBeDefined();
      const file = /\/etc\/flotilla\/(\S+)/.exec(exec!)?.[1];
      expect(provided.has(file!), `${unit} reads /etc/flotilla/${file}`).toBe(true);
      expect(text).toContain('EnvironmentFile=/etc/default/flotilla');
    }
  });

  it('docs/deploy.md lists every setting with its environment variable', () => {
    const guide = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');
    for (const s of settings) expect(guide, s.path).toContain(`| \`${s.path}\` | \`${envName(s.path)}\` |`);
  });

  it('compose.yaml runs the example files: 3 NATS servers and members, 2 agents', () => {
    type Service = {
      command?: string[];
      env_file?: string;
      volumes?: string[];
      network_mode?: string;
      networks?: Record<string, { ipv4_address: string }>;
    };
    const dir = join(deployDir, 'image');
    const compose = parseYaml(readFileSync(join(dir, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, Service>;
    };
    const services = Object.entries(compose.services);
    const commands = services.map(([, s]) => s.command?.slice(0, 2).join(' '));
    expect(commands.filter((c) => c === '/usr/local/bin/flotilla server')).toHaveLength(3);
    expect(commands.filter((c) => c === '/usr/local/bin/flotilla agent')).toHaveLength(2);
    expect(commands.filter((c) => c?.startsWith('/usr/sbin/nats-server'))).toHaveLength(3);
    for (const [name, s] of services) {
      // Every file it reads is one of deploy/'s, and each env file's member sits at its address.
      const env = readEnvFile(join(dir, s.env_file!));
      for (const v of s.volumes ?? []) {
        const [host] = v.split(':');
        if (host!.startsWith('.'))
          expect(readFileSync(join(dir, host!)).length, `${name}: ${v}`).toBeGreaterThan(0);
      }
      const peer = s.network_mode?.replace(/^service:/, '');
      const address = (peer ? compose.services[peer] : s)?.networks?.flotilla?.ipv4_address;
      const expected = env.NATS_HOST ?? env.FLOTILLA_AGENT_NODE_IP;
      expect(address, name).toBe(expected);
    }
  });
});
