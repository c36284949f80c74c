/**
 * (bench and tests) A TCP proxy that delays every byte by a fixed one-way time plus jitter, in order: a slow link
 * between `embody run` and a policy server, for hosts where `tc netem` is not available (this
 * kernel has no sch_netem). Bytes are never reordered (each chunk leaves no earlier than the
 * one before it), as TCP would deliver them.
 */
import net from 'node:net';

export interface DelayProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function delayProxy(target: number, oneWayMs: number, jitterMs = 0): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const pipe = (from: net.Socket, to: net.Socket): void => {
    let last = 0;
    from.on('data', (data: Buffer) => {
      const at = Math.max(last, Date.now() + oneWayMs + (Math.random() * 2 - 1) * jitterMs);
      last = at;
      setTimeout(() => to.writable && to.write(data), at - Date.now());
    });
    from.on('close', () => setTimeout(() => to.destroy(), Math.max(0, last - Date.now())));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
