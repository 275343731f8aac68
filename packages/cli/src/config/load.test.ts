import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.ts';
import { envName, flagName } from './settings.ts';

describe('loadConfig', () => {
  it('takes defaults, then the file, then the environment, then flags', () => {
    const dir = tempDir('config');
    const file = join(dir, 'flotilla.yaml');
    writeFileSync(
      file,
      'member: m1\nstore:\n  tickMs: 50\n  electionTicks: 20\nnats:\n  servers: [nats://10.0.0.1:4222, 10.0.0.2:4222]\n',
    );
    const c = loadConfig({
      file,
      env: { FLOTILLA_STORE_TICK_MS: '60' },
      flags: { 'store.electionTicks': '30' },
    });
    expect(c.member).toBe('m1');
    expect(c.store.tickMs).toBe(60);
    expect(c.store.electionTicks).toBe(30);
    expect(c.nats.servers).toEqual(['nats://10.0.0.1:4222', '10.0.0.2:4222']);
    expect(c.apiserver.listen).toBe('127.0.0.1:6443');
    expect(c.cluster).toBe('flotilla');
  });

  it('reports every problem at once, each with where it came from', () => {
    const dir = tempDir('config');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'store:\n  tickMs: fast\n  electionTick: 3\napiserver:\n  listen: 6443\n');
    const err = (() => {
      try {
        loadConfig({
          file,
          env: { FLOTILLA_LOG_LEVEL: 'loud' },
          flags: { 'apiserver.serviceCIDR': '10.96.0.0/33' },
          required: ['member'],
        });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        `${file}: unknown setting store.electionTick`,
        `${file}: store.tickMs: must be an integer, got "fast"`,
        `${file}: apiserver.listen: must be host:port with a port in 1-65535, got 6443`,
        'FLOTILLA_LOG_LEVEL: must be debug, info, warn or error, got "loud"',
        '--apiserver-service-cidr: must be an IPv4 CIDR like 10.96.0.0/16, got "10.96.0.0/33"',
        'member is required: set --member, FLOTILLA_MEMBER or member in the config file',
      ]),
    );
    expect(problems).toHaveLength(6);
  });

  it('refuses a file that is not YAML, naming it', () => {
    const dir = tempDir('config');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'store: [unclosed\n');
    expect(() => loadConfig({ file, flags: { member: 'm1' } })).toThrow(ConfigError);
  });

  it('names environment variables and flags after the setting path', () => {
    expect(envName('store.autoCompactionRetainRevisions')).toBe(
      'FLOTILLA_STORE_AUTO_COMPACTION_RETAIN_REVISIONS',
    );
    expect(flagName('apiserver.serviceCIDR')).toBe('--apiserver-service-cidr');
    expect(envName('dataDir')).toBe('FLOTILLA_DATA_DIR');
  });

  it('checks the agent settings: a required node IP, addresses as IPv4', () => {
    const ok = loadConfig({
      env: { FLOTILLA_AGENT_NODE_IP: '192.0.2.10', FLOTILLA_MEMBER: 'worker-1' },
      required: ['member', 'agent.nodeIP'],
    });
    expect(ok.agent).toEqual({
      runtime: 'containerd',
      containerdSocket: '',
      nodeIP: '192.0.2.10',
      clusterDNS: '10.96.0.10',
      clusterDomain: 'cluster.local',
      leaseRenewIntervalMs: 10_000,
    });
    const problems = (() => {
      try {
        loadConfig({
          env: { FLOTILLA_MEMBER: 'worker-1' },
          flags: { 'agent.clusterDNS': '10.96.0.300', 'agent.leaseRenewIntervalMs': '10' },
          required: ['member', 'agent.nodeIP'],
        });
        return [];
      } catch (err) {
        return err instanceof ConfigError ? err.problems : [String(err)];
      }
    })();
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toContain('agent.nodeIP is required');
    expect(problems.join('\n')).toContain('--agent-cluster-dns: must be an IPv4 address');
    expect(problems.join('\n')).toContain('--agent-lease-renew-interval-ms: must be at least 1000');
  });
});
