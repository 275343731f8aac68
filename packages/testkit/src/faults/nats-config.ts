/** Ports a member's NATS server uses on its own host (each host has its own port space). */
export const natsPorts = { client: 4222, cluster: 6222, monitor: 8222 } as const;

/**
 * Pings every second, two unanswered ones close the connection: a route cut by a
 * partition is dropped and redialled within about 3 s, instead of waiting out TCP's
 * back-off (which, after a long partition, delays the first retransmission by seconds).
 * A paused member is disconnected the same way and reconnects when it wakes.
 */
const pingIntervalSeconds = 1;
const maxPingsOut = 2;
/** A peer that cannot take a write for this long is cut off (a stalled route, a paused client). */
const writeDeadlineSeconds = 2;

export type NatsServerConfig = {
  readonly name: string;
  /** Address the server listens on, for clients, routes and monitoring alike. */
  readonly listen: string;
  /** `host:port` of the other servers' cluster listeners. */
  readonly routes: readonly string[];
  readonly maxPayloadBytes?: number;
};

/** A nats-server configuration file for one member's server in a fault cluster. */
export function natsServerConfig(c: NatsServerConfig): string {
  const routes = c.routes.map((r) => `    "nats-route://${r}"`).join(',\n');
  return [
    `server_name: ${JSON.stringify(c.name)}`,
    `listen: "${c.listen}:${natsPorts.client}"`,
    `http: "${c.listen}:${natsPorts.monitor}"`,
    `ping_interval: "${pingIntervalSeconds}s"`,
    `ping_max: ${maxPingsOut}`,
    `write_deadline: "${writeDeadlineSeconds}s"`,
    ...(c.maxPayloadBytes ? [`max_payload: ${c.maxPayloadBytes}`] : []),
    'cluster {',
    '  name: "flotilla"',
    `  listen: "${c.listen}:${natsPorts.cluster}"`,
    '  routes: [',
    routes,
    '  ]',
    '}',
    '',
  ].join('\n');
}
