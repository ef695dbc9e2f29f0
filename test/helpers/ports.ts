/**
 * A free loopback TCP port for a server a test or bench starts itself (in another process, so it cannot listen on 0
 * and report back).
 *
 * Picked at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by default), then
 * checked by binding it: a port from that range (listen on 0, close) could be handed out again before the server
 * bound it, as the source port of any outgoing connection of the test files running in parallel (PostgreSQL, Redis,
 * HTTP), and the server then failed with EADDRINUSE (seen once in a full run: an executor's health port).
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_767;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port found in ${LOW}–${HIGH}`);
}
