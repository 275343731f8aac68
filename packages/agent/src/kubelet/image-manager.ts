import type { PullPolicy } from '@flotilla/api';
import { defaultPullPolicy } from '@flotilla/api';
import type { ImageInfo, Runtime } from '../runtime/runtime.ts';
import { RestartBackoff, type RestartBackoffPolicy } from './restart-backoff.ts';

/** The waiting reasons kubelet gives a container whose image is not there. */
export type ImageFailureReason =
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'ErrImageNeverPull'
  | 'InvalidImageName';

export type EnsureImageResult =
  | { readonly kind: 'ready'; readonly image: ImageInfo }
  | { readonly kind: 'failed'; readonly reason: ImageFailureReason; readonly message: string };

/** What an image reference may contain (a loose check: the runtime parses it for real). */
const imageNamePattern = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

/**
 * kubelet's image manager: asks the runtime whether the image is present and pulls it
 * only when the pull policy says so; a failed pull backs off per pod and image.
 * https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
 */
export class ImageManager {
  private readonly runtime: Runtime;
  private readonly backoff: RestartBackoff;
  private readonly now: () => number;
  private readonly lastFailureMs = new Map<string, number>();

  constructor(runtime: Runtime, backoff: RestartBackoffPolicy, now: () => number = Date.now) {
    this.runtime = runtime;
    this.backoff = new RestartBackoff(backoff, now);
    this.now = now;
  }

  /** `backoffKey` scopes the back-off (kubelet: the pod's uid and the image). */
  async ensure(
    image: string,
    policy: PullPolicy | undefined,
    backoffKey: string,
  ): Promise<EnsureImageResult> {
    if (image === '' || !imageNamePattern.test(image)) {
      return {
        kind: 'failed',
        reason: 'InvalidImageName',
        message: `Failed to apply default image tag "${image}"`,
      };
    }
    const pull = policy ?? defaultPullPolicy(image);
    const present = pull === 'Always' ? undefined : await this.runtime.imageStatus(image);
    if (present !== undefined) return { kind: 'ready', image: present };
    if (pull === 'Never') {
      return {
        kind: 'failed',
        reason: 'ErrImageNeverPull',
        message: `Container image "${image}" is not present with pull policy of Never`,
      };
    }
    const key = `${backoffKey}/${image}`;
    const failedAt = this.lastFailureMs.get(key);
    if (failedAt !== undefined && this.backoff.isInBackOffSince(key, failedAt)) {
      return { kind: 'failed', reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
    }
    try {
      await this.runtime.pullImage(image);
      const info = await this.runtime.imageStatus(image);
      if (info === undefined) throw new Error(`image ${image} is not present after a successful pull`);
      this.lastFailureMs.delete(key);
      return { kind: 'ready', image: info };
    } catch (err) {
      const at = this.now();
      this.lastFailureMs.set(key, at);
      this.backoff.next(key, at);
      const detail = err instanceof Error ? err.message : String(err);
      return {
        kind: 'failed',
        reason: 'ErrImagePull',
        message: `Failed to pull image "${image}": ${detail}`,
      };
    }
  }

  /** When a pull of `image` for `backoffKey` may be tried again (for a wake-up timer). */
  retryAtMs(image: string, backoffKey: string): number | undefined {
    const key = `${backoffKey}/${image}`;
    const failedAt = this.lastFailureMs.get(key);
    return failedAt === undefined ? undefined : this.backoff.retryAtMs(key, failedAt);
  }

  forget(backoffKey: string): void {
    this.backoff.forget(`${backoffKey}/`);
    for (const key of this.lastFailureMs.keys())
      if (key.startsWith(`${backoffKey}/`)) this.lastFailureMs.delete(key);
  }
}
