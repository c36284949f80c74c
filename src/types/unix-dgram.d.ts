// The subset of unix-dgram (no bundled types) that embody uses.
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';
  interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void;
    connect(path: string): void;
    send(buffer: Buffer, callback?: (error?: Error) => void): void;
    sendto(buffer: Buffer, offset: number, length: number, path: string, callback?: (error?: Error) => void): void;
    close(): void;
  }
  function createSocket(type: 'unix_dgram', listener?: (message: Buffer) => void): UnixDgramSocket;
  const unix: { createSocket: typeof createSocket };
  export default unix;
  export { createSocket, type UnixDgramSocket };
}
