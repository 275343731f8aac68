import { FlotillaError } from '@flotilla/actor';

/** The gRPC status names a CRI call can fail with (google.rpc.Code). */
export type CriStatus =
  | 'Cancelled'
  | 'Unknown'
  | 'InvalidArgument'
  | 'DeadlineExceeded'
  | 'NotFound'
  | 'AlreadyExists'
  | 'PermissionDenied'
  | 'ResourceExhausted'
  | 'FailedPrecondition'
  | 'Aborted'
  | 'OutOfRange'
  | 'Unimplemented'
  | 'Internal'
  | 'Unavailable'
  | 'DataLoss'
  | 'Unauthenticated';

/** A CRI call failed: the runtime answered with an error, or did not answer in time. */
export class CriError extends FlotillaError {
  readonly method: string;
  readonly status: CriStatus;
  /** The runtime's own message, without the gRPC prefix. */
  readonly details: string;

  constructor(method: string, status: CriStatus, details: string) {
    super(`Cri${status}`, `${method}: ${status}: ${details}`, { method, status, details });
    this.method = method;
    this.status = status;
    this.details = details;
  }
}

/** The agent's containerd could not be started, or stopped answering. */
export class ContainerdError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('ContainerdFailed', message, data);
  }
}

/** A host command the agent runs (ip, ctr, mount) failed. */
export class HostCommandError extends FlotillaError {
  readonly command: string;
  readonly stderr: string;
  constructor(command: string, args: readonly string[], exitCode: number | null, stderr: string) {
    super('HostCommandFailed', `${command} ${args.join(' ')} exited with ${exitCode}: ${stderr.trim()}`, {
      command,
      args,
      exitCode,
    });
    this.command = command;
    this.stderr = stderr;
  }
}

/** A pod's volume could not be set up; the message is what the pod's status shows. */
export class VolumeError extends FlotillaError {
  readonly volume: string;
  constructor(volume: string, message: string) {
    super('VolumeSetUpFailed', `MountVolume.SetUp failed for volume "${volume}": ${message}`, { volume });
    this.volume = volume;
  }
}

/**
 * A container's configuration cannot be built (a referenced ConfigMap or Secret key is
 * missing): kubelet reports it as CreateContainerConfigError.
 */
export class ContainerConfigError extends FlotillaError {
  constructor(message: string) {
    super('CreateContainerConfigError', message);
  }
}

/** The pod or container a request names is not on this node. */
export class PodNotFoundError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('PodNotFound', message, data);
  }
}

/** The agent is stopping and takes no new work. */
export class AgentStoppedError extends FlotillaError {
  constructor(what: string) {
    super('AgentStopped', `${what}: the agent is stopping`);
  }
}
