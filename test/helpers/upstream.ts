/**
 * Local upstream HTTP servers for fetch tests (loopback only): every request is counted and remembered, and the
 * handler decides the answer. `host` defaults to 127.0.0.1; tests use 127.0.0.2 for a second loopback address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Upstream {
  server: Server;
  port: number;
  /** http://host:port */
  origin: string;
  requests: SeenRequest[];
  /** TCP connections accepted */
  connections: number;
  /** most requests in flight at once */
  maxInFlight: number;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: SeenRequest, res: ServerResponse, u: Upstream) => unknown;

export async function startUpstream(handler: UpstreamHandler, host = '127.0.0.1'): Promise<Upstream> {
  let inFlight = 0;
  const u = { requests: [] as SeenRequest[], connections: 0, maxInFlight: 0 } as Upstream;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      u.requests.push(seen);
      inFlight++;
      u.maxInFlight = Math.max(u.maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      Promise.resolve(handler(seen, res, u)).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err.message));
      });
    });
  });
  server.on('connection', () => u.connections++);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  u.server = server;
  u.port = (server.address() as AddressInfo).port;
  u.origin = `http://${host}:${u.port}`;
  u.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return u;
}

/** A handler answering JSON `{ ok: true, path }` (after `delayMs`). */
export function jsonHandler(delayMs = 0): UpstreamHandler {
  return async (req, res) => {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    res.writeHead(200, { 'content-type': 'application/json', 'X-Upstream': 'yes' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  };
}
