/**
 * git's push quarantine (`objects/tmp_objdir-incoming-*`, git ≥ 2.11; `objects/incoming-*` in some versions):
 * receive-pack writes a push's objects there and moves them into the repository only after the pre-receive hook
 * accepted. PiCloud commits a release inside that hook, so a crash between the commit and git's own move would
 * leave a live release whose commit exists only in the quarantine (or nowhere, when git removed it on the failed
 * hook). Two remedies, both here:
 * - `keepQuarantinedObjects`, just before the release commit: the quarantine's complete packs and loose objects
 *   are hard-linked (copied across file systems) into `objects/`. Git does the same link-and-keep move itself
 *   after an accepted hook; objects of a push that then fails are unreferenced, and `git gc` prunes them.
 * - `rescueQuarantines`, at start: the same move for every leftover quarantine of a dead push, then its removal.
 * Hand-written because no library moves objects between git object directories; the rules are git's own
 * (tmp-objdir.c): packs before their index, files that exist already are kept, loose objects are immutable.
 */
import { constants } from 'node:fs';
import { copyFile, link, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const QUARANTINE_RE = /^(tmp_objdir-)?incoming-/;
const LOOSE_DIR_RE = /^[0-9a-f]{2}$/;
const LOOSE_FILE_RE = /^[0-9a-f]{38,62}$/;

/** Put one file at `to` unless it exists: a hard link, or a copy under a temporary name then renamed. */
async function place(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'EXDEV' && code !== 'EPERM') throw e;
    const tmp = `${to}.tmp-${process.pid}`;
    await copyFile(from, tmp, constants.COPYFILE_EXCL);
    await rename(tmp, to);
  }
}

const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/** Move the complete objects of one quarantine directory into `<repoDir>/objects`. Returns how many files moved. */
async function moveObjects(repoDir: string, from: string): Promise<number> {
  const objects = path.join(repoDir, 'objects');
  let moved = 0;
  for (const name of await list(from)) {
    if (!LOOSE_DIR_RE.test(name)) continue;
    const files = (await list(path.join(from, name))).filter((f) => LOOSE_FILE_RE.test(f));
    if (files.length) await mkdir(path.join(objects, name), { recursive: true });
    for (const f of files) {
      await place(path.join(from, name, f), path.join(objects, name, f));
      moved++;
    }
  }
  // a pack counts only once its index exists (index-pack writes the .idx last); the .idx goes last here too
  const packs = await list(path.join(from, 'pack'));
  for (const idx of packs.filter((f) => /^pack-[0-9a-f]+\.idx$/.test(f))) {
    const base = idx.slice(0, -'.idx'.length);
    if (!packs.includes(`${base}.pack`)) continue;
    await mkdir(path.join(objects, 'pack'), { recursive: true });
    for (const ext of ['.pack', '.rev', '.idx']) {
      if (!packs.includes(base + ext)) continue;
      await place(path.join(from, 'pack', base + ext), path.join(objects, 'pack', base + ext));
      moved++;
    }
  }
  return moved;
}

/**
 * Keep the objects of the running push (its GIT_QUARANTINE_PATH) in the repository. A quarantine outside
 * `<repoDir>/objects/` is refused: the path comes from the hook.
 */
export async function keepQuarantinedObjects(repoDir: string, quarantine: string | undefined): Promise<void> {
  if (!quarantine || !(await stat(quarantine).catch(() => null))) return;
  // compared as real paths: git may spell the repository through a symbolic link the server resolved
  const q = await realpath(quarantine);
  if (path.dirname(q) !== path.join(await realpath(repoDir), 'objects') || !QUARANTINE_RE.test(path.basename(q))) {
    throw new Error(`not a quarantine directory of ${repoDir}: ${quarantine}`);
  }
  await moveObjects(repoDir, q);
}

/** The leftover quarantine directories of a repository (call only when no push of it can be running). */
export async function quarantineDirs(repoDir: string): Promise<string[]> {
  return (await list(path.join(repoDir, 'objects'))).filter((n) => QUARANTINE_RE.test(n)).map((n) => path.join(repoDir, 'objects', n));
}

/**
 * Start-up: move the complete objects of every leftover quarantine into the repository, then remove it.
 * Returns the directories removed.
 */
export async function rescueQuarantines(repoDir: string): Promise<string[]> {
  const dirs = await quarantineDirs(repoDir);
  for (const d of dirs) {
    await moveObjects(repoDir, d);
    await rm(d, { recursive: true, force: true });
  }
  return dirs;
}
