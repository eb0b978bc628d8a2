import { createServer } from 'node:net';

/** Loopback address that every local server and emulator binds to. */
export const LOCAL_HOST = '127.0.0.1';

/**
 * Finds a TCP port that is free on 127.0.0.1 by letting the kernel assign one.
 *
 * The port is released before this resolves, so another process can take it before the caller
 * binds it. That race is rare enough for local runs and tests.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOCAL_HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`Failed to read the port assigned on ${LOCAL_HOST}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
