/**
 * Request bodies in Kubernetes' protobuf encoding, read into the JSON shape every other
 * body has, for the objects kubectl 1.32+ builds itself and sends that way (`kubectl
 * create configmap|secret|deployment|namespace|service`, `run`, `expose`): typed
 * client-go clients prefer protobuf for built-in types and do not fall back on 415.
 *
 * The envelope is `k8s\0` followed by a runtime.Unknown whose `raw` is the object. Field
 * numbers are those of k8s.io/api's generated.proto. Go marshals every non-pointer field,
 * even empty, so a zero scalar reads as absent (as JSON's omitempty would have it) unless
 * the field is a pointer whose zero means something (`replicas: 0`). A field this table
 * does not know is ignored when it is zero and refused (415, "send JSON") when it is not,
 * so nothing a client sent is silently dropped. Statuses are skipped: a create resets
 * them and status writes come over NATS.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
 */
import { badRequest, unsupportedMediaType } from '@flotilla/api';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';
const envelopeMagic = [0x6b, 0x38, 0x73, 0x00];
/** Messages nest at most this deep (PodSpec's deepest supported field is a few levels down). */
const maxDepth = 32;

type Scalar = 'string' | 'bytes' | 'int' | 'bool' | 'quantity' | 'intOrString' | 'time';
type FieldType = Scalar | { readonly message: () => MessageSchema } | 'skip';

type Field = {
  readonly name: string;
  readonly type: FieldType;
  readonly repeated?: boolean;
  /** map<string, value>: entries of key (1) and value (2). */
  readonly mapOf?: Scalar;
  /** A Go pointer: its zero value was set on purpose and is kept. */
  readonly keepZero?: boolean;
};

type MessageSchema = { readonly name: string; readonly fields: Readonly<Record<number, Field>> };

const f = (name: string, type: FieldType, more: Omit<Field, 'name' | 'type'> = {}): Field => ({
  name,
  type,
  ...more,
});
const msg = (m: () => MessageSchema): FieldType => ({ message: m });
const list = (name: string, type: FieldType) => f(name, type, { repeated: true });
const map = (name: string, of: Scalar) => f(name, 'string', { mapOf: of });
const ptr = (name: string, type: FieldType) => f(name, type, { keepZero: true });
const schema = (name: string, fields: Record<number, Field>): MessageSchema => ({ name, fields });

// ---- meta/v1 ----------------------------------------------------------------------------------------

const ownerReference = schema('OwnerReference', {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: ptr('controller', 'bool'),
  7: ptr('blockOwnerDeletion', 'bool'),
});

const objectMeta = schema('ObjectMeta', {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  4: f('selfLink', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int'),
  8: f('creationTimestamp', 'time'),
  9: f('deletionTimestamp', 'time'),
  10: ptr('deletionGracePeriodSeconds', 'int'),
  11: map('labels', 'string'),
  12: map('annotations', 'string'),
  13: list(
    'ownerReferences',
    msg(() => ownerReference),
  ),
  14: list('finalizers', 'string'),
  // managedFields: the server keeps none.
  17: f('managedFields', 'skip'),
});

const labelSelectorRequirement = schema('LabelSelectorRequirement', {
  1: f('key', 'string'),
  2: f('operator', 'string'),
  3: list('values', 'string'),
});

const labelSelector = schema('LabelSelector', {
  1: map('matchLabels', 'string'),
  2: list(
    'matchExpressions',
    msg(() => labelSelectorRequirement),
  ),
});

const preconditions = schema('Preconditions', {
  1: ptr('uid', 'string'),
  2: ptr('resourceVersion', 'string'),
});

const deleteOptions = schema('DeleteOptions', {
  1: ptr('gracePeriodSeconds', 'int'),
  2: f(
    'preconditions',
    msg(() => preconditions),
  ),
  3: ptr('orphanDependents', 'bool'),
  4: ptr('propagationPolicy', 'string'),
  5: list('dryRun', 'string'),
});

// ---- core/v1 -------------------------------------------------------------------------------------------

const containerPort = schema('ContainerPort', {
  1: f('name', 'string'),
  2: f('hostPort', 'int'),
  3: f('containerPort', 'int'),
  4: f('protocol', 'string'),
  5: f('hostIP', 'string'),
});

const envVar = schema('EnvVar', { 1: f('name', 'string'), 2: f('value', 'string') });

const resourceRequirements = schema('ResourceRequirements', {
  1: map('limits', 'quantity'),
  2: map('requests', 'quantity'),
});

const volumeMount = schema('VolumeMount', {
  1: f('name', 'string'),
  2: f('readOnly', 'bool'),
  3: f('mountPath', 'string'),
  4: f('subPath', 'string'),
  5: ptr('mountPropagation', 'string'),
  6: f('subPathExpr', 'string'),
});

const container = schema('Container', {
  1: f('name', 'string'),
  2: f('image', 'string'),
  3: list('command', 'string'),
  4: list('args', 'string'),
  5: f('workingDir', 'string'),
  6: list(
    'ports',
    msg(() => containerPort),
  ),
  7: list(
    'env',
    msg(() => envVar),
  ),
  8: f(
    'resources',
    msg(() => resourceRequirements),
  ),
  9: list(
    'volumeMounts',
    msg(() => volumeMount),
  ),
  13: f('terminationMessagePath', 'string'),
  14: f('imagePullPolicy', 'string'),
  16: f('stdin', 'bool'),
  17: f('stdinOnce', 'bool'),
  18: f('tty', 'bool'),
  20: f('terminationMessagePolicy', 'string'),
});

const localObjectReference = schema('LocalObjectReference', { 1: f('name', 'string') });

const toleration = schema('Toleration', {
  1: f('key', 'string'),
  2: f('operator', 'string'),
  3: f('value', 'string'),
  4: f('effect', 'string'),
  5: ptr('tolerationSeconds', 'int'),
});

const podSpec = schema('PodSpec', {
  2: list(
    'containers',
    msg(() => container),
  ),
  3: f('restartPolicy', 'string'),
  4: ptr('terminationGracePeriodSeconds', 'int'),
  5: ptr('activeDeadlineSeconds', 'int'),
  6: f('dnsPolicy', 'string'),
  7: map('nodeSelector', 'string'),
  8: f('serviceAccountName', 'string'),
  9: f('serviceAccount', 'string'),
  10: f('nodeName', 'string'),
  11: f('hostNetwork', 'bool'),
  12: f('hostPID', 'bool'),
  13: f('hostIPC', 'bool'),
  15: list(
    'imagePullSecrets',
    msg(() => localObjectReference),
  ),
  16: f('hostname', 'string'),
  17: f('subdomain', 'string'),
  19: f('schedulerName', 'string'),
  20: list(
    'initContainers',
    msg(() => container),
  ),
  21: ptr('automountServiceAccountToken', 'bool'),
  22: list(
    'tolerations',
    msg(() => toleration),
  ),
  24: f('priorityClassName', 'string'),
  25: ptr('priority', 'int'),
  27: ptr('shareProcessNamespace', 'bool'),
  29: ptr('runtimeClassName', 'string'),
  30: ptr('enableServiceLinks', 'bool'),
  31: ptr('preemptionPolicy', 'string'),
  35: ptr('setHostnameAsFQDN', 'bool'),
});

const podTemplateSpec = schema('PodTemplateSpec', {
  1: f(
    'metadata',
    msg(() => objectMeta),
  ),
  2: f(
    'spec',
    msg(() => podSpec),
  ),
});

const clientIPConfig = schema('ClientIPConfig', { 1: ptr('timeoutSeconds', 'int') });
const sessionAffinityConfig = schema('SessionAffinityConfig', {
  1: f(
    'clientIP',
    msg(() => clientIPConfig),
  ),
});

const servicePort = schema('ServicePort', {
  1: f('name', 'string'),
  2: f('protocol', 'string'),
  3: f('port', 'int'),
  4: f('targetPort', 'intOrString'),
  5: f('nodePort', 'int'),
  6: ptr('appProtocol', 'string'),
});

const serviceSpec = schema('ServiceSpec', {
  1: list(
    'ports',
    msg(() => servicePort),
  ),
  2: map('selector', 'string'),
  3: f('clusterIP', 'string'),
  4: f('type', 'string'),
  5: list('externalIPs', 'string'),
  7: f('sessionAffinity', 'string'),
  8: f('loadBalancerIP', 'string'),
  9: list('loadBalancerSourceRanges', 'string'),
  10: f('externalName', 'string'),
  11: f('externalTrafficPolicy', 'string'),
  12: f('healthCheckNodePort', 'int'),
  13: f('publishNotReadyAddresses', 'bool'),
  14: f(
    'sessionAffinityConfig',
    msg(() => sessionAffinityConfig),
  ),
  17: ptr('ipFamilyPolicy', 'string'),
  18: list('clusterIPs', 'string'),
  19: list('ipFamilies', 'string'),
  20: ptr('allocateLoadBalancerNodePorts', 'bool'),
  21: ptr('loadBalancerClass', 'string'),
  22: ptr('internalTrafficPolicy', 'string'),
});

const namespaceSpec = schema('NamespaceSpec', { 1: list('finalizers', 'string') });

// Objects: metadata 1, spec 2 (or their data), status 3 (skipped).
const topLevel: Readonly<Record<string, MessageSchema>> = {
  'v1/Namespace': schema('Namespace', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: f(
      'spec',
      msg(() => namespaceSpec),
    ),
    3: f('status', 'skip'),
  }),
  'v1/ConfigMap': schema('ConfigMap', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: map('data', 'string'),
    3: map('binaryData', 'bytes'),
    4: ptr('immutable', 'bool'),
  }),
  'v1/Secret': schema('Secret', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: map('data', 'bytes'),
    3: f('type', 'string'),
    4: map('stringData', 'string'),
    5: ptr('immutable', 'bool'),
  }),
  'v1/Pod': schema('Pod', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: f(
      'spec',
      msg(() => podSpec),
    ),
    3: f('status', 'skip'),
  }),
  'v1/Service': schema('Service', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: f(
      'spec',
      msg(() => serviceSpec),
    ),
    3: f('status', 'skip'),
  }),
  'apps/v1/Deployment': schema('Deployment', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: f(
      'spec',
      msg(() =>
        schema('DeploymentSpec', {
          1: ptr('replicas', 'int'),
          2: f(
            'selector',
            msg(() => labelSelector),
          ),
          3: f(
            'template',
            msg(() => podTemplateSpec),
          ),
          4: f(
            'strategy',
            msg(() =>
              schema('DeploymentStrategy', {
                1: f('type', 'string'),
                2: f(
                  'rollingUpdate',
                  msg(() =>
                    schema('RollingUpdateDeployment', {
                      1: ptr('maxUnavailable', 'intOrString'),
                      2: ptr('maxSurge', 'intOrString'),
                    }),
                  ),
                ),
              }),
            ),
          ),
          5: f('minReadySeconds', 'int'),
          6: ptr('revisionHistoryLimit', 'int'),
          7: f('paused', 'bool'),
          9: ptr('progressDeadlineSeconds', 'int'),
        }),
      ),
    ),
    3: f('status', 'skip'),
  }),
  'apps/v1/ReplicaSet': schema('ReplicaSet', {
    1: f(
      'metadata',
      msg(() => objectMeta),
    ),
    2: f(
      'spec',
      msg(() =>
        schema('ReplicaSetSpec', {
          1: ptr('replicas', 'int'),
          2: f(
            'selector',
            msg(() => labelSelector),
          ),
          3: f(
            'template',
            msg(() => podTemplateSpec),
          ),
          4: f('minReadySeconds', 'int'),
        }),
      ),
    ),
    3: f('status', 'skip'),
  }),
};

// ---- wire format ---------------------------------------------------------------------------------------

class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;
  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw malformed('truncated varint');
      const b = this.bytes[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
    }
    throw malformed('varint longer than 10 bytes');
  }
  chunk(): Uint8Array {
    const length = Number(this.varint());
    if (length < 0 || this.pos + length > this.end) throw malformed('length past the end of the message');
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.chunk();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw malformed(`unsupported wire type ${wireType}`);
    }
  }
}

function malformed(why: string): Error {
  return badRequest(`the protobuf body is malformed: ${why}`);
}

function unsupported(what: string): Error {
  return unsupportedMediaType(`${protobufMediaType} (${what})`, ['application/json', 'application/yaml']);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw malformed('a string is not UTF-8');
  }
}

function toNumber(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER))
    throw malformed('integer out of range');
  return Number(n);
}

/** metav1.Time: seconds and nanos since the epoch; Go's zero time reads as absent. */
const goZeroTimeSeconds = -62_135_596_800n;

function decodeTime(bytes: Uint8Array): string | undefined {
  const r = new Reader(bytes);
  let seconds = 0n;
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1 && (tag & 7) === 0) seconds = r.varint();
    else r.skip(tag & 7);
  }
  if (seconds === goZeroTimeSeconds || seconds === 0n) return undefined;
  return new Date(toNumber(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** resource.Quantity: its string form (field 1). */
function decodeQuantity(bytes: Uint8Array): string {
  const r = new Reader(bytes);
  let out = '';
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1 && (tag & 7) === 2) out = text(r.chunk());
    else r.skip(tag & 7);
  }
  return out;
}

/** intstr.IntOrString: type 0 reads intVal (2), type 1 strVal (3). */
function decodeIntOrString(bytes: Uint8Array): number | string {
  const r = new Reader(bytes);
  let type = 0;
  let intVal = 0;
  let strVal = '';
  while (!r.done) {
    const tag = Number(r.varint());
    const n = tag >> 3;
    if (n === 1 && (tag & 7) === 0) type = toNumber(r.varint());
    else if (n === 2 && (tag & 7) === 0) intVal = toNumber(BigInt.asIntN(32, r.varint()));
    else if (n === 3 && (tag & 7) === 2) strVal = text(r.chunk());
    else r.skip(tag & 7);
  }
  return type === 1 ? strVal : intVal;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function scalarValue(type: Scalar, wireType: number, r: Reader): Json | undefined {
  switch (type) {
    case 'string':
      if (wireType !== 2) throw malformed('a string field is not length-delimited');
      return text(r.chunk());
    case 'bytes':
      if (wireType !== 2) throw malformed('a bytes field is not length-delimited');
      return Buffer.from(r.chunk()).toString('base64');
    case 'int':
      if (wireType !== 0) throw malformed('an integer field is not a varint');
      return toNumber(r.varint());
    case 'bool':
      if (wireType !== 0) throw malformed('a bool field is not a varint');
      return r.varint() !== 0n;
    case 'quantity':
      if (wireType !== 2) throw malformed('a quantity is not a message');
      return decodeQuantity(r.chunk());
    case 'intOrString':
      if (wireType !== 2) throw malformed('an int-or-string is not a message');
      return decodeIntOrString(r.chunk());
    case 'time':
      if (wireType !== 2) throw malformed('a time is not a message');
      return decodeTime(r.chunk());
  }
}

const isZero = (v: Json | undefined): boolean => v === undefined || v === '' || v === 0 || v === false;

/** The value of an unknown field, just enough to tell zero from set. */
function unknownIsZero(wireType: number, r: Reader): boolean {
  switch (wireType) {
    case 0:
      return r.varint() === 0n;
    case 2:
      return r.chunk().length === 0;
    default:
      r.skip(wireType);
      return false;
  }
}

function decodeMapEntry(bytes: Uint8Array, of: Scalar, depth: number): [string, Json | undefined] {
  const r = new Reader(bytes);
  let key = '';
  let value: Json | undefined;
  while (!r.done) {
    const tag = Number(r.varint());
    const n = tag >> 3;
    if (n === 1) key = text(r.chunk());
    else if (n === 2) value = scalarValue(of, tag & 7, r);
    else r.skip(tag & 7);
  }
  if (depth > maxDepth) throw malformed('nested too deeply');
  // An entry without a value holds the value's zero (an empty string, say).
  return [key, value ?? (of === 'string' || of === 'bytes' || of === 'quantity' ? '' : null)];
}

/** The object under `name`, made empty the first time (a map field's entries arrive one by one). */
function objectAt(out: { [k: string]: Json }, name: string): { [k: string]: Json } {
  const existing = out[name];
  if (typeof existing === 'object' && existing !== null && !Array.isArray(existing)) return existing;
  const created: { [k: string]: Json } = {};
  out[name] = created;
  return created;
}

/** The list under `name`, made empty the first time (a repeated field's items arrive one by one). */
function arrayAt(out: { [k: string]: Json }, name: string): Json[] {
  const existing = out[name];
  if (Array.isArray(existing)) return existing;
  const created: Json[] = [];
  out[name] = created;
  return created;
}

function decodeMessage(bytes: Uint8Array, m: MessageSchema, depth: number): { [k: string]: Json } {
  if (depth > maxDepth) throw malformed('nested too deeply');
  const out: { [k: string]: Json } = {};
  const r = new Reader(bytes);
  while (!r.done) {
    const tag = Number(r.varint());
    const number = tag >> 3;
    const wireType = tag & 7;
    const field = m.fields[number];
    if (field === undefined) {
      if (!unknownIsZero(wireType, r)) throw unsupported(`field ${number} of ${m.name} is not supported`);
      continue;
    }
    if (field.type === 'skip') {
      r.skip(wireType);
      continue;
    }
    if (field.mapOf !== undefined) {
      if (wireType !== 2) throw malformed(`map ${field.name} of ${m.name} is not length-delimited`);
      const [k, v] = decodeMapEntry(r.chunk(), field.mapOf, depth + 1);
      objectAt(out, field.name)[k] = v ?? null;
      continue;
    }
    let value: Json | undefined;
    if (typeof field.type === 'object') {
      if (wireType !== 2) throw malformed(`${field.name} of ${m.name} is not a message`);
      value = decodeMessage(r.chunk(), field.type.message(), depth + 1);
    } else if (field.repeated && wireType === 2 && (field.type === 'int' || field.type === 'bool')) {
      // A packed repeated scalar.
      const packed = new Reader(r.chunk());
      const items = arrayAt(out, field.name);
      while (!packed.done) items.push(scalarValue(field.type, 0, packed) ?? null);
      continue;
    } else {
      value = scalarValue(field.type, wireType, r);
    }
    if (field.repeated) {
      arrayAt(out, field.name).push(value ?? null);
      continue;
    }
    if (isZero(value) && !field.keepZero) continue;
    if (value !== undefined) out[field.name] = value;
  }
  return out;
}

function typeMetaOf(bytes: Uint8Array): { apiVersion: string; kind: string } {
  const r = new Reader(bytes);
  let apiVersion = '';
  let kind = '';
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1) apiVersion = text(r.chunk());
    else if (tag >> 3 === 2) kind = text(r.chunk());
    else r.skip(tag & 7);
  }
  return { apiVersion, kind };
}

/** The envelope: `k8s\0`, then runtime.Unknown { typeMeta 1, raw 2, contentEncoding 3, contentType 4 }. */
function unwrap(body: Uint8Array): { apiVersion: string; kind: string; raw: Uint8Array } {
  if (body.length < envelopeMagic.length || envelopeMagic.some((b, i) => body[i] !== b)) {
    throw malformed('the body does not start with the k8s protobuf envelope');
  }
  const r = new Reader(body, envelopeMagic.length);
  let meta = { apiVersion: '', kind: '' };
  let raw: Uint8Array = new Uint8Array();
  while (!r.done) {
    const tag = Number(r.varint());
    const n = tag >> 3;
    if (n === 1 && (tag & 7) === 2) meta = typeMetaOf(r.chunk());
    else if (n === 2 && (tag & 7) === 2) raw = r.chunk();
    else if (n === 3 && (tag & 7) === 2) {
      const encoding = text(r.chunk());
      if (encoding !== '') throw unsupported(`content encoding ${encoding}`);
    } else r.skip(tag & 7);
  }
  return { ...meta, raw };
}

/** An object sent as protobuf, in its JSON shape (then decoded like any JSON body). */
export function decodeProtobufObject(body: Uint8Array): Json {
  const { apiVersion, kind, raw } = unwrap(body);
  const m = topLevel[`${apiVersion}/${kind}`];
  if (m === undefined) throw unsupported(`${apiVersion} ${kind} is not read from protobuf`);
  return { apiVersion, kind, ...decodeMessage(raw, m, 0) };
}

/** DeleteOptions sent as protobuf (the body of a typed client's delete). */
export function decodeProtobufDeleteOptions(body: Uint8Array): Json {
  const { kind, raw } = unwrap(body);
  if (kind !== '' && kind !== 'DeleteOptions') throw unsupported(`${kind} is not DeleteOptions`);
  return decodeMessage(raw, deleteOptions, 0);
}
