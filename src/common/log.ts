/** pino root logger factory. Only cli/ creates the root; modules take a `Logger` and use `.child({component})`. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', pretty = false): Logger {
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
