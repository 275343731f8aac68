import { join, resolve } from 'node:path';

/** Where `flo` keeps a local cluster's state, logs and kubeconfig. */
export function floHome(): string {
  return resolve(process.env.FLOTILLA_HOME ?? join(process.cwd(), '.flotilla'));
}
