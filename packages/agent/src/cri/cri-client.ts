import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CriError, type CriStatus } from '../errors.ts';
import type { CriMethod, CriRequest, CriResponse, CriService } from './cri-wire.ts';

/** Deadline of a CRI call unless the caller gives one (kubelet's runtime-request-timeout is 2 min). */
export const defaultCriDeadlineMs = 120_000;
/** containerd answers lists of every container of a busy node; 16 MiB is what kubelet allows. */
export const maxCriMessageBytes = 16 * 1024 * 1024;

const protoPath = fileURLToPath(new URL('./runtime-v1.proto', import.meta.url));

// keepCase: the wire names; longs as strings (int64 does not fit a double); enums by
// name; defaults so every scalar is present in a response.
const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let packageDefinition: protoLoader.PackageDefinition | undefined;

function definitionOf(service: CriService, method: string): grpc.MethodDefinition<object, object> {
  packageDefinition ??= protoLoader.loadSync(protoPath, loaderOptions);
  const svc = packageDefinition[`runtime.v1.${service}`];
  const def = svc === undefined || 'format' in svc ? undefined : (svc as grpc.ServiceDefinition)[method];
  if (def === undefined) throw new Error(`runtime-v1.proto has no ${service}.${method}`);
  return def as grpc.MethodDefinition<object, object>;
}

const statusNames: Readonly<Record<number, CriStatus>> = {
  [grpc.status.CANCELLED]: 'Cancelled',
  [grpc.status.UNKNOWN]: 'Unknown',
  [grpc.status.INVALID_ARGUMENT]: 'InvalidArgument',
  [grpc.status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [grpc.status.NOT_FOUND]: 'NotFound',
  [grpc.status.ALREADY_EXISTS]: 'AlreadyExists',
  [grpc.status.PERMISSION_DENIED]: 'PermissionDenied',
  [grpc.status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [grpc.status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [grpc.status.ABORTED]: 'Aborted',
  [grpc.status.OUT_OF_RANGE]: 'OutOfRange',
  [grpc.status.UNIMPLEMENTED]: 'Unimplemented',
  [grpc.status.INTERNAL]: 'Internal',
  [grpc.status.UNAVAILABLE]: 'Unavailable',
  [grpc.status.DATA_LOSS]: 'DataLoss',
  [grpc.status.UNAUTHENTICATED]: 'Unauthenticated',
};

/**
 * One gRPC channel to a CRI endpoint (containerd's socket). Every call has a deadline
 * and fails with a `CriError` carrying the gRPC status.
 */
export class CriClient {
  readonly address: string;
  private readonly client: grpc.Client;
  private closed = false;

  /** `socketPath` is the unix socket's file path (grpc wants `unix://` + absolute path). */
  constructor(socketPath: string) {
    this.address = `unix://${socketPath}`;
    this.client = new grpc.Client(this.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxCriMessageBytes,
      'grpc.max_send_message_length': maxCriMessageBytes,
    });
  }

  call<S extends CriService, M extends CriMethod<S>>(
    service: S,
    method: M,
    request: CriRequest<S, M>,
    deadlineMs: number = defaultCriDeadlineMs,
  ): Promise<CriResponse<S, M>> {
    if (this.closed) return Promise.reject(new CriError(method, 'Cancelled', 'the CRI client is closed'));
    const def = definitionOf(service, method);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request as object,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err, response) => {
          if (err) {
            reject(new CriError(method, statusNames[err.code] ?? 'Unknown', err.details || err.message));
          } else {
            resolve(response as CriResponse<S, M>);
          }
        },
      );
    });
  }

  /** Resolves once the channel is connected; rejects when `timeoutMs` passes first. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }
}
