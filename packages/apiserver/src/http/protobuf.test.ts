import { StatusError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { decodeProtobufDeleteOptions, decodeProtobufObject } from './protobuf.ts';

// A minimal protobuf writer for the tests: fields are [number, value] pairs, where a value
// is a bigint or number (varint), a string, a Uint8Array, or nested fields (a message).
type Value = number | bigint | string | Uint8Array | Fields;
type Fields = readonly (readonly [number, Value])[];

function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

function encode(fields: Fields): Uint8Array {
  const out: number[] = [];
  for (const [n, value] of fields) {
    if (typeof value === 'number' || typeof value === 'bigint') {
      out.push(...varint(BigInt(n << 3)), ...varint(BigInt(value)));
      continue;
    }
    const bytes =
      typeof value === 'string'
        ? new TextEncoder().encode(value)
        : value instanceof Uint8Array
          ? value
          : encode(value);
    out.push(...varint(BigInt((n << 3) | 2)), ...varint(BigInt(bytes.length)), ...bytes);
  }
  return Uint8Array.from(out);
}

function envelope(apiVersion: string, kind: string, raw: Fields): Uint8Array {
  const unknown = encode([
    [
      1,
      [
        [1, apiVersion],
        [2, kind],
      ],
    ],
    [2, encode(raw)],
    [3, ''],
    [4, ''],
  ]);
  return Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...unknown]);
}

const emptyTime: Fields = [
  [1, -62_135_596_800n],
  [2, 0],
];

function statusOf(run: () => unknown): { code: number; message: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof StatusError) return { code: err.status.code, message: err.status.message ?? '' };
    throw err;
  }
  throw new Error('expected a StatusError');
}

describe('protobuf request bodies', () => {
  it('read a Deployment as kubectl 1.33 sends it, zero values as absent and set pointers kept', () => {
    const body = envelope('apps/v1', 'Deployment', [
      [
        1,
        [
          [1, 'web'],
          [2, ''],
          [7, 0],
          [8, emptyTime],
          [
            11,
            [
              [1, 'app'],
              [2, 'web'],
            ],
          ],
        ],
      ],
      [
        2,
        [
          [1, 0],
          [
            2,
            [
              [
                1,
                [
                  [1, 'app'],
                  [2, 'web'],
                ],
              ],
            ],
          ],
          [
            3,
            [
              [
                1,
                [
                  [
                    11,
                    [
                      [1, 'app'],
                      [2, 'web'],
                    ],
                  ],
                ],
              ],
              [
                2,
                [
                  [
                    2,
                    [
                      [1, 'nginx'],
                      [2, 'nginx:1.25'],
                      [
                        6,
                        [
                          [3, 80],
                          [4, 'TCP'],
                        ],
                      ],
                      [8, []],
                      [16, 0],
                    ],
                  ],
                  [3, ''],
                  [11, 0],
                ],
              ],
            ],
          ],
          [
            4,
            [
              [
                2,
                [
                  [
                    1,
                    [
                      [1, 1],
                      [3, '25%'],
                    ],
                  ],
                ],
              ],
            ],
          ],
          [5, 0],
        ],
      ],
      [3, [[2, 7]]],
    ]);
    expect(decodeProtobufObject(body)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'nginx',
                image: 'nginx:1.25',
                ports: [{ containerPort: 80, protocol: 'TCP' }],
                resources: {},
              },
            ],
          },
        },
        strategy: { rollingUpdate: { maxUnavailable: '25%' } },
      },
    });
  });

  it('read Secret bytes as base64, targetPorts as numbers or names, and set times as RFC 3339', () => {
    const secret = decodeProtobufObject(
      envelope('v1', 'Secret', [
        [
          1,
          [
            [1, 's'],
            [8, [[1, 1_700_000_000n]]],
          ],
        ],
        [
          2,
          [
            [1, 'k'],
            [2, new Uint8Array([0, 255, 1])],
          ],
        ],
        [3, 'Opaque'],
      ]),
    );
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', creationTimestamp: '2023-11-14T22:13:20Z' },
      data: { k: 'AP8B' },
      type: 'Opaque',
    });
    const service = decodeProtobufObject(
      envelope('v1', 'Service', [
        [1, [[1, 'svc']]],
        [
          2,
          [
            [
              1,
              [
                [3, 80],
                [4, [[2, 8080]]],
              ],
            ],
            [
              1,
              [
                [3, 81],
                [
                  4,
                  [
                    [1, 1],
                    [3, 'http'],
                  ],
                ],
              ],
            ],
          ],
        ],
      ]),
    ) as { spec: { ports: unknown[] } };
    expect(service.spec.ports).toEqual([
      { port: 80, targetPort: 8080 },
      { port: 81, targetPort: 'http' },
    ]);
  });

  it('ignore unknown fields that are empty, and refuse those that are set with 415', () => {
    const quiet = decodeProtobufObject(
      envelope('v1', 'ConfigMap', [
        [1, [[1, 'cm']]],
        [99, 0],
        [98, ''],
      ]),
    );
    expect(quiet).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } });
    const loud = statusOf(() =>
      decodeProtobufObject(
        envelope('v1', 'ConfigMap', [
          [1, [[1, 'cm']]],
          [99, 5],
        ]),
      ),
    );
    expect(loud.code).toBe(415);
    expect(loud.message).toContain('field 99 of ConfigMap is not supported');
    expect(statusOf(() => decodeProtobufObject(envelope('v1', 'Endpoints', []))).code).toBe(415);
  });

  it('answer 400 for bodies that are not protobuf', () => {
    expect(statusOf(() => decodeProtobufObject(new TextEncoder().encode('{"kind":"Pod"}'))).code).toBe(400);
    const truncated = envelope('v1', 'ConfigMap', [[1, [[1, 'cm']]]]).subarray(0, 20);
    expect(statusOf(() => decodeProtobufObject(truncated)).code).toBe(400);
  });

  it('read DeleteOptions', () => {
    const body = envelope('meta.k8s.io/v1', 'DeleteOptions', [
      [1, 0],
      [4, 'Foreground'],
      [5, 'All'],
    ]);
    expect(decodeProtobufDeleteOptions(body)).toEqual({
      gracePeriodSeconds: 0,
      propagationPolicy: 'Foreground',
      dryRun: ['All'],
    });
  });
});
