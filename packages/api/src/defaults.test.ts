import { describe, expect, it } from 'vitest';
import { applyDefaults, defaultPullPolicy, imageTag } from './defaults.ts';
import type { Deployment } from './types/apps.ts';
import type { Namespace, Pod, Secret, Service } from './types/core.ts';

describe('defaults', () => {
  it('fills a pod the way the API server does', () => {
    const pod = applyDefaults<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'cfg' } }],
        containers: [
          {
            name: 'web',
            image: 'nginx',
            ports: [{ containerPort: 80 }],
            resources: { limits: { cpu: '1' }, requests: { memory: '64Mi' } },
            livenessProbe: { httpGet: { port: 80 } },
            env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          },
        ],
      },
    });
    expect(pod.spec).toEqual({
      volumes: [
        { name: 'scratch', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'cfg', defaultMode: 0o644 } },
      ],
      containers: [
        {
          name: 'web',
          image: 'nginx',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          // Requests not given default to the limits, on pods only.
          resources: { limits: { cpu: '1' }, requests: { cpu: '1', memory: '64Mi' } },
          livenessProbe: {
            httpGet: { port: 80, path: '/', scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName', apiVersion: 'v1' } } }],
          imagePullPolicy: 'Always',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
    });
  });

  it('chooses the pull policy from the tag', () => {
    expect(defaultPullPolicy('nginx')).toBe('Always');
    expect(defaultPullPolicy('nginx:latest')).toBe('Always');
    expect(defaultPullPolicy('nginx:1.25')).toBe('IfNotPresent');
    expect(defaultPullPolicy('localhost:5000/nginx')).toBe('Always');
    expect(defaultPullPolicy('localhost:5000/nginx:1.25')).toBe('IfNotPresent');
    expect(defaultPullPolicy('nginx@sha256:abcd')).toBe('IfNotPresent');
    expect(imageTag('registry.io/a/b:v2@sha256:abcd')).toBe('v2');
  });

  it('keeps what was given, including explicit zeros', () => {
    const pod = applyDefaults<Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        terminationGracePeriodSeconds: 0,
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'x', imagePullPolicy: 'Never' }],
      },
    });
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(0);
    expect(pod.spec?.restartPolicy).toBe('Never');
    expect(pod.spec?.containers[0]?.imagePullPolicy).toBe('Never');
  });

  it('fills a deployment: RollingUpdate 25%/25%, history 10, deadline 600, one replica', () => {
    const d = applyDefaults<Deployment>({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { selector: {}, template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
    });
    expect(d.spec).toMatchObject({
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    // Templates get pod spec defaults but not the pod-only ones.
    expect(d.spec?.template.spec).toMatchObject({ restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' });
    expect(d.spec?.template.spec?.priority).toBeUndefined();
    const recreate = applyDefaults<Deployment>({
      ...d,
      spec: { ...(d.spec as NonNullable<Deployment['spec']>), strategy: { type: 'Recreate' } },
    });
    expect(recreate.spec?.strategy).toEqual({ type: 'Recreate' });
  });

  it('fills a service: ClusterIP, no affinity, TCP, targetPort = port', () => {
    const s = applyDefaults<Service>({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: {
        clusterIP: '10.96.0.10',
        ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }],
      },
    });
    expect(s.spec).toEqual({
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ports: [
        { port: 80, protocol: 'TCP', targetPort: 80 },
        { port: 53, protocol: 'UDP', targetPort: 'dns' },
      ],
      sessionAffinity: 'None',
      type: 'ClusterIP',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    });
    const sticky = applyDefaults<Service>({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'x' },
      spec: { type: 'NodePort', sessionAffinity: 'ClientIP' },
    });
    expect(sticky.spec?.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
    expect(sticky.spec?.externalTrafficPolicy).toBe('Cluster');
  });

  it('labels namespaces with their name and turns stringData into data', () => {
    const ns = applyDefaults<Namespace>({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    expect(ns.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'shop' });
    expect(ns.status?.phase).toBe('Active');
    const secret = applyDefaults<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data: { a: 'eA==' },
      stringData: { b: 'héllo' },
    });
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      type: 'Opaque',
      data: { a: 'eA==', b: 'aMOpbGxv' },
    });
  });

  it('does not change its input', () => {
    const input: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    };
    const copy = structuredClone(input);
    applyDefaults(input);
    expect(input).toEqual(copy);
  });
});
