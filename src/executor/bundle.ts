/**
 * The code executor threads load. Compiled (dist/, see common/runtime.ts), that is dist/executor/thread.js. Under
 * tsx (tests, bin.js), a worker thread on Node 20 does not inherit the parent's loader, so each thread would register
 * tsx again (its own loader-hooks thread and esbuild state: ~25 MB and ~0.5 s per thread). Instead the thread entry
 * is bundled once per process with esbuild (already installed as tsx's dependency) into one plain ESM file
 * (node_modules/.cache/picloud), named by its content hash; threads load that. npm packages (undici, ipaddr.js for
 * http::fetch) stay imports, resolved from that place inside node_modules. If esbuild is unavailable or the cache
 * directory is not writable, threads fall back to registering tsx themselves.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COMPILED } from '../common/runtime.ts';

const ENTRY_TS = fileURLToPath(new URL('./thread.ts', import.meta.url));
const BOOT = new URL('./thread-boot.mjs', import.meta.url);
const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/picloud', import.meta.url));

export interface ThreadEntry {
  url: URL;
  /** extra workerData the entry needs (the fallback boot file needs the TS entry) */
  data: Record<string, unknown>;
  bundled: boolean;
}

let cached: Promise<ThreadEntry> | null = null;

async function bundle(): Promise<ThreadEntry> {
  try {
    const esbuild = (await import('esbuild')) as { build(o: Record<string, unknown>): Promise<{ outputFiles: { text: string }[] }>; stop?(): void | Promise<void> };
    const r = await esbuild.build({
      entryPoints: [ENTRY_TS], bundle: true, platform: 'node', format: 'esm', target: 'node20',
      write: false, packages: 'external', legalComments: 'none', logLevel: 'silent',
    });
    const text = r.outputFiles[0]!.text;
    // the esbuild service child grows by the bundle's working set; stop it (tsx restarts it if it needs it)
    await esbuild.stop?.();
    const name = `picloud-executor-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`;
    // inside node_modules, so the bundle's package imports resolve
    const file = path.join(CACHE_DIR, name);
    if (!existsSync(file)) {
      mkdirSync(CACHE_DIR, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file);
    }
    return { url: pathToFileURL(file), data: {}, bundled: true };
  } catch {
    return { url: BOOT, data: { entry: pathToFileURL(ENTRY_TS).href }, bundled: false };
  }
}

/** The thread entry for this process: compiled, dist/executor/thread.js itself; under tsx, bundled once. */
export function threadEntry(): Promise<ThreadEntry> {
  cached ??= COMPILED ? Promise.resolve({ url: new URL('./thread.js', import.meta.url), data: {}, bundled: true }) : bundle();
  return cached;
}
