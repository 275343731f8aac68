import { connect, createServer, type Server, type Socket } from 'node:net';
import { registerCleanup } from '../cleanup.ts';

/**
 * A loopback TCP load balancer in front of the API server replicas, as a real HA control
 * plane has one (haproxy, a VIP): each client connection goes to the next backend in turn,
 * skipping backends that refuse it. Killing a replica breaks only the connections it
 * held; clients reconnect through the balancer and land on a live one.
 */
export class TcpBalancer {
  readonly port: number;
  private readonly server: Server;
  private readonly backends: () => readonly number[];
  private readonly sockets = new Set<Socket>();
  private next = 0;

  private constructor(server: Server, port: number, backends: () => readonly number[]) {
    this.server = server;
    this.port = port;
    this.backends = backends;
  }

  /** Listens on a free loopback port; `backends` is read for every new connection. */
  static async start(backends: () => readonly number[]): Promise<TcpBalancer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, resolve);
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const balancer = new TcpBalancer(server, port, backends);
    server.on('connection', (client) => balancer.accept(client));
    registerCleanup({ name: `balancer :${port}`, run: () => balancer.close() });
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    client.pause();
    this.track(client);
    const ports = [...this.backends()];
    const start = this.next++;
    const attempt = (tried: number) => {
      if (tried >= ports.length || client.destroyed) {
        client.destroy();
        return;
      }
      const port = ports[(start + tried) % ports.length] as number;
      const upstream = connect({ host: '127.0.0.1', port });
      const refused = () => {
        upstream.destroy();
        attempt(tried + 1);
      };
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        this.track(upstream);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
