/**
 * A kubeconfig for a control plane on loopback: plain HTTP, no credentials (Flotilla's
 * API server does no authentication; it listens on 127.0.0.1 only). `insecure-skip-tls-verify`
 * means nothing over HTTP, but @kubernetes/client-node refuses an http:// server without it.
 */
export function kubeconfigYaml(server: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: flotilla',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'contexts:',
    '- name: flotilla',
    '  context:',
    '    cluster: flotilla',
    '    user: flotilla',
    `    namespace: ${namespace}`,
    'current-context: flotilla',
    'users:',
    '- name: flotilla',
    '  user: {}',
    '',
  ].join('\n');
}
