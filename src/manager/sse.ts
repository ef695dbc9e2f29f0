/** Server-sent events plumbing shared by the API's log tail and the dashboard's live view. */
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';

/**
 * Keep an open event-stream response alive (a comment line every 15 s, so proxies keep it open) and run
 * `onDone` exactly once, however the stream ends.
 */
export function holdSseStream(req: FastifyRequest, res: ServerResponse, onDone: () => void): void {
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  let finished = false;
  const done = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(heartbeat);
    onDone();
  };
  res.on('close', done);
  // A client going away only half-closes the socket while our response is open; end it so the
  // connection does not linger until the next heartbeat write fails.
  req.raw.socket.on('end', () => {
    done();
    res.end();
  });
}
