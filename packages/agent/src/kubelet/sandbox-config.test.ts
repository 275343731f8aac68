import { describe, expect, test } from 'vitest';
import { testPod } from '../../test/fixtures/observed.ts';
import { dnsConfigFor, hostnameFor, hostsFile, parseResolvConf, sandboxConfigFor } from './sandbox-config.ts';

const host = parseResolvConf(
  '# comment\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab.example\noptions edns0 timeout:2\n',
);
const cluster = { servers: ['10.96.0.10'], domain: 'cluster.local' };

describe('DNS config', () => {
  test('resolv.conf is parsed', () => {
    expect(host).toEqual({
      servers: ['192.0.2.53', '192.0.2.54'],
      searches: ['corp.example', 'lab.example'],
      options: ['edns0', 'timeout:2'],
    });
  });

  test('ClusterFirst: the cluster DNS with the namespace search path and ndots:5', () => {
    expect(dnsConfigFor(testPod({ containers: [] }, { namespace: 'shop' }), cluster, host)).toEqual({
      servers: ['10.96.0.10'],
      searches: [
        'shop.svc.cluster.local',
        'svc.cluster.local',
        'cluster.local',
        'corp.example',
        'lab.example',
      ],
      options: ['ndots:5'],
    });
  });

  test('Default copies the node; ClusterFirst falls back to it on the host network or without cluster DNS', () => {
    const node = { servers: host.servers, searches: host.searches, options: host.options };
    expect(dnsConfigFor(testPod({ dnsPolicy: 'Default', containers: [] }), cluster, host)).toEqual(node);
    expect(dnsConfigFor(testPod({ hostNetwork: true, containers: [] }), cluster, host)).toEqual(node);
    expect(dnsConfigFor(testPod({ containers: [] }), { servers: [], domain: 'cluster.local' }, host)).toEqual(
      node,
    );
  });

  test("None plus the pod's dnsConfig; options merge by name, limits apply", () => {
    const pod = testPod({
      dnsPolicy: 'None',
      dnsConfig: {
        nameservers: ['1.1.1.1', '1.0.0.1', '9.9.9.9', '8.8.8.8'],
        searches: ['a.example'],
        options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
      },
      containers: [],
    });
    expect(dnsConfigFor(pod, cluster, host)).toEqual({
      servers: ['1.1.1.1', '1.0.0.1', '9.9.9.9'],
      searches: ['a.example'],
      options: ['ndots:2', 'edns0'],
    });
    const merged = dnsConfigFor(
      testPod({ dnsConfig: { options: [{ name: 'ndots', value: '1' }] }, containers: [] }),
      cluster,
      host,
    );
    expect(merged.options).toEqual(['ndots:1']);
  });
});

describe('hostname and /etc/hosts', () => {
  test('hostname is the pod name or spec.hostname, cut to 63 bytes; a subdomain gives an FQDN', () => {
    expect(hostnameFor(testPod({ containers: [] }, { name: 'web-0' }), 'cluster.local')).toEqual({
      hostname: 'web-0',
      domain: '',
    });
    const long = `${'a'.repeat(62)}-bcd`;
    expect(hostnameFor(testPod({ containers: [] }, { name: long }), 'cluster.local').hostname).toBe(
      'a'.repeat(62),
    );
    expect(
      hostnameFor(
        testPod({ hostname: 'db-0', subdomain: 'db', containers: [] }, { namespace: 'x' }),
        'cluster.local',
      ),
    ).toEqual({
      hostname: 'db-0',
      domain: 'db.x.svc.cluster.local',
    });
  });

  test('/etc/hosts has localhost, the pod at its IP, and hostAliases', () => {
    const text = hostsFile(
      testPod(
        { hostAliases: [{ ip: '192.0.2.9', hostnames: ['foo', 'bar'] }], containers: [] },
        { name: 'web' },
      ),
      '10.0.0.7',
      'cluster.local',
    );
    expect(text).toContain('127.0.0.1\tlocalhost\n');
    expect(text).toContain('10.0.0.7\tweb\n');
    expect(text).toContain('192.0.2.9\tfoo\tbar\n');
  });
});

describe('sandboxConfigFor', () => {
  test('names, log directory, labels that find the pod again, namespaces, ports', () => {
    const pod = testPod(
      {
        shareProcessNamespace: true,
        securityContext: {
          runAsUser: 1000,
          fsGroup: 2000,
          sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65000' }],
        },
        containers: [
          {
            name: 'c',
            ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }],
          },
        ],
      },
      { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'x' } },
    );
    const c = sandboxConfigFor(pod, 2, {
      nodeName: 'n1',
      cgroupParent: '/flotilla/n1/podu1',
      podLogsDir: '/logs',
      clusterDomain: 'cluster.local',
      dns: { servers: [], searches: [], options: [] },
    });
    expect(c.metadata).toEqual({ name: 'p', namespace: 'ns', uid: 'u1', attempt: 2 });
    expect(c.logDirectory).toBe('/logs/ns_p_u1');
    expect(c.labels).toMatchObject({ app: 'x', 'io.kubernetes.pod.uid': 'u1', 'flotilla.io/node': 'n1' });
    expect(c.linux).toMatchObject({
      cgroupParent: '/flotilla/n1/podu1',
      network: 'pod',
      pid: 'pod',
      ipc: 'pod',
      runAsUser: 1000,
      supplementalGroups: [2000],
    });
    expect(c.linux.sysctls).toEqual({ 'net.ipv4.ip_local_port_range': '1024 65000' });
    expect(c.portMappings).toEqual([
      { protocol: 'TCP', containerPort: 80, hostPort: 0, hostIP: '' },
      { protocol: 'UDP', containerPort: 53, hostPort: 5353, hostIP: '' },
    ]);
  });
});
