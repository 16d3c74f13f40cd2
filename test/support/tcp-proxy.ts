import net from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server, to make the network fail
 * for real: cut() drops every open connection and refuses new ones, restore()
 * listens again on the same port. With `bytesPerSecond`, uploads through it
 * are throttled, so that a test can act while one is surely under way.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  private readonly target: { host: string; port: number };
  private readonly bytesPerSecond: number | undefined;

  constructor(target: { host: string; port: number }, bytesPerSecond?: number) {
    this.target = target;
    this.bytesPerSecond = bytesPerSecond;
  }

  static async start(targetUrl: string, options: { bytesPerSecond?: number } = {}): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port) }, options.bytesPerSecond);
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      upstream.pipe(client);
      const rate = this.bytesPerSecond;
      if (!rate) {
        client.pipe(upstream);
        return;
      }
      client.on('data', (chunk: Buffer) => {
        upstream.write(chunk);
        client.pause();
        setTimeout(() => client.resume(), (chunk.length / rate) * 1000);
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  restore(): Promise<void> {
    return this.listen();
  }
}
