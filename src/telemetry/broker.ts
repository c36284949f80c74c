/**
 * The embedded broker (`--broker embedded`, the `embody run` default): aedes on loopback, so a
 * newcomer can `mosquitto_sub -t 'embody/#' -v` with nothing else installed or running.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBrokerOptions {
  /** Defaults to loopback: an embedded broker with no authentication must not face a network. */
  readonly host?: string;
  /** Defaults to 1883; 0 picks a free port. */
  readonly port?: number;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Set when the requested port was taken and a free port was used instead. */
  readonly fellBackFrom?: number;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const requested = options.port ?? 1883;
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  let port: number;
  let fellBackFrom: number | undefined;
  try {
    try {
      port = await listen(server, host, requested);
    } catch (error) {
      // A system mosquitto often holds 1883 already; running beside it beats refusing to start.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || requested === 0) throw error;
      fellBackFrom = requested;
      port = await listen(server, host, 0);
    }
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `mqtt://${urlHost}:${port}`,
    port,
    ...(fellBackFrom === undefined ? {} : { fellBackFrom }),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        // aedes disconnects its clients first, so the server's close can complete.
        broker.close(() => server.close(() => resolve()));
      })),
  };
}
