/**
 * The machine's floors for a request that crosses what a PiCloud request must cross, with no PiCloud code: used
 * by bench:deploy to tell its first-request-after-idle gap from the machine's own.
 *   plain   — a node:http server answering in its own thread
 *   thread  — the same server handing each request to a worker thread and answering with its reply (the least any
 *             sandboxed executor does: a script runs off the server's thread so a watchdog can stop it)
 *   process — the same server handing each request over one kept-open TCP connection to a second process, which
 *             hands it to its worker thread (the least a request through an executor process does)
 * Each answers `hello`; every hop is a message of a few bytes.
 */
import http from 'node:http';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { lineReader } from '../../src/queue/lanes.ts';
import { spawnNodeReady, stopChild } from './lib.ts';

export interface Floor {
  url: string;
  close(): Promise<void>;
}

/** A worker thread that echoes every message (the stand-in for an executor thread). */
const ECHO_WORKER = `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));`;

/** The second process: a TCP server whose lines go through its echo thread and come back as lines. */
const EXECUTOR_PROCESS = `
const net = require('node:net');
const { Worker } = require('node:worker_threads');
const w = new Worker(${JSON.stringify(ECHO_WORKER)}, { eval: true });
const server = net.createServer((s) => {
  s.setNoDelay(true);
  let buf = '';
  w.on('message', (m) => s.write(m + '\\n'));
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) { w.postMessage(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
});
w.once('online', () => server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\\n')));
`;

async function listen(handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer(handler);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return server;
}

const urlOf = (s: http.Server) => `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/`;
const closed = (s: http.Server) => new Promise<void>((res) => s.close(() => res()));

export async function plainFloor(): Promise<Floor> {
  const server = await listen((_req, res) => res.end('hello'));
  return { url: urlOf(server), close: () => closed(server) };
}

/** Answers each request with the reply its id gets from `send`'s other end. */
function pending(): { add(res: http.ServerResponse): string; done(id: string): void } {
  const waiting = new Map<string, http.ServerResponse>();
  let seq = 0;
  return {
    add(res) {
      const id = String(++seq);
      waiting.set(id, res);
      return id;
    },
    done(id) {
      waiting.get(id)?.end('hello');
      waiting.delete(id);
    },
  };
}

export async function threadFloor(): Promise<Floor> {
  const w = new Worker(ECHO_WORKER, { eval: true });
  await new Promise((res) => w.once('online', res));
  const p = pending();
  w.on('message', (id: string) => p.done(id));
  const server = await listen((_req, res) => w.postMessage(p.add(res)));
  return { url: urlOf(server), close: async () => { await closed(server); await w.terminate(); } };
}

export async function processFloor(): Promise<Floor> {
  const { child, port } = await spawnNodeReady(['-e', EXECUTOR_PROCESS], "the process floor's second process");
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((res, rej) => sock.once('connect', res).once('error', rej));
  sock.setNoDelay(true);
  const p = pending();
  sock.setEncoding('utf8');
  const read = lineReader((id) => p.done(id));
  sock.on('data', (chunk: string) => void read(chunk));
  const server = await listen((_req, res) => sock.write(`${p.add(res)}\n`));
  return {
    url: urlOf(server),
    close: async () => {
      await closed(server);
      sock.destroy();
      await stopChild(child);
    },
  };
}
