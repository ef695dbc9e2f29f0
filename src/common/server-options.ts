/**
 * Options every PiCloud HTTP server shares (`buildServer`, `picloud orchestrator`): slow-client limits and the
 * answer to a client error before routing. The whole request (headers and body) must arrive within
 * requestTimeoutMs and the headers within min(requestTimeoutMs, 30 s); node checks every
 * connectionsCheckingInterval and the client gets `408 {"error", "code": "REQUEST_TIMEOUT"}` (a client dripping a
 * byte every 10 s used to hold a connection forever). Malformed requests get 400 and oversized headers 431, in the
 * platform's JSON error shape.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from './config.ts';

export interface HttpServerOptions {
  requestTimeout: number;
  http: { headersTimeout: number; connectionsCheckingInterval: number };
  clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => void;
}

function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'the request (headers and body) did not arrive in time', code: 'REQUEST_TIMEOUT' }]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, { error: 'request headers too large', code: 'BAD_REQUEST' }]
        : [400, { error: 'malformed HTTP request', code: 'BAD_REQUEST' }];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

export function httpServerOptions(c: Pick<Config, 'requestTimeoutMs'>): HttpServerOptions {
  const headersTimeout = Math.min(c.requestTimeoutMs, 30_000);
  return {
    requestTimeout: c.requestTimeoutMs,
    http: { headersTimeout, connectionsCheckingInterval: Math.min(5_000, Math.max(100, Math.floor(headersTimeout / 5))) },
    clientErrorHandler,
  };
}
