/**
 * The per-invocation log cap: at most MAX_LOG_LINES lines and MAX_LOG_BYTES bytes (UTF-8) of `print`/`debug`
 * output are stored per invocation, each line cut at MAX_LOG_LINE characters. Past a cap, one marker line says
 * the log was truncated and counts what was dropped (0.1 could store 1000 lines of 8 KiB: 8 MB per invocation).
 */
import type { LogLine } from '../queue/jobs.ts';

export const MAX_LOG_LINES = 1000;
export const MAX_LOG_LINE = 8 * 1024;
export const MAX_LOG_BYTES = 64 * 1024;

export class InvocationLog {
  readonly lines: LogLine[] = [];
  #bytes = 0;
  #marker: LogLine | null = null;
  #droppedLines = 0;
  #droppedBytes = 0;

  add(level: LogLine['level'], s: string, t: number): void {
    const msg = s.length > MAX_LOG_LINE ? s.slice(0, MAX_LOG_LINE) + '…' : s;
    const bytes = Buffer.byteLength(msg);
    if (this.#marker === null && this.lines.length < MAX_LOG_LINES && this.#bytes + bytes <= MAX_LOG_BYTES) {
      this.#bytes += bytes;
      this.lines.push({ level, msg, t });
      return;
    }
    this.#droppedLines++;
    this.#droppedBytes += bytes;
    const text = `[log truncated: at most ${MAX_LOG_LINES} lines and ${MAX_LOG_BYTES / 1024} KiB per invocation; ${this.#droppedLines} more line${this.#droppedLines === 1 ? '' : 's'} (${this.#droppedBytes} bytes) not stored]`;
    if (this.#marker) this.#marker.msg = text;
    else this.lines.push((this.#marker = { level: 'debug', msg: text, t }));
  }
}
