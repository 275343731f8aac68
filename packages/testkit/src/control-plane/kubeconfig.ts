/**
 * A kubeconfig for a control plane on loopback: plain HTTP, no credentials (Flotilla's
 * API server does no authentication; it listens on 127.0.0.1 only).
 */
export function kubeconfigYaml(server: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: flotilla',
    '  cluster:',
    `    server: ${server}`,
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
