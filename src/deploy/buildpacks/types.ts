/**
 * The buildpack contract (Heroku's three steps, architecture.md §7): `detect` (does it apply to this tree?),
 * `compile` (validate the tree and turn it into artifacts) and `release` (the release manifest: routes,
 * schedules, config). The deploy code runs an explicit ordered list of buildpacks (buildpacks/index.ts).
 */
import type { DeployDiagnostic } from '../diagnostics.ts';
import type { DeployEngine } from '../engine.ts';
import type { Manifest } from '../manifest.ts';

/** The tree as a buildpack sees it: decoded text of every readable file, and the modes. */
export interface BuildInput {
  /** path → UTF-8 text (files that were readable and valid) */
  texts: Map<string, string>;
  /** path → git mode, for every file in the tree */
  modes: Map<string, string>;
  engine: DeployEngine | null;
  /** the subset of hashes already in the AST cache (and their function lists when known) */
  cache: ScriptCache | null;
  progress(line: string): void;
}

/** The functions a script defines (name and parameter names). */
export type ScriptFunctions = { name: string; params: string[] }[];

export interface ScriptCache {
  lookup(hashes: string[]): Promise<Map<string, { name: string; params: string[] }[]>>;
  /** a freshly compiled script's function list (so a later hit need not parse its stored AST) */
  remember?(hash: string, functions: { name: string; params: string[] }[]): void;
}

export interface BuiltScript {
  path: string;
  hash: string;
  bytes: number;
  /** program JSON; null when it came from the cache */
  ast: string | null;
}

export interface BuildOutput {
  /** the problems found, at most MAX_SHOWN_DIAGNOSTICS of them */
  diagnostics: DeployDiagnostic[];
  /** problems found beyond those in `diagnostics` (counted, not built) */
  more?: number;
  /** the app manifest (routes, schedules, env, limits) when compile succeeded */
  manifest: Manifest | null;
  scripts: BuiltScript[];
  /** script path → (import path → module hash) of the modules each script reaches (absent: imports nothing) */
  modules?: Record<string, Record<string, string>>;
  stats: { compiled: number; cached: number; ms: number };
}

export interface Buildpack {
  name: string;
  detect(input: BuildInput): boolean;
  compile(input: BuildInput): Promise<BuildOutput>;
  /** the release manifest stored with the release (JSON) */
  release(out: BuildOutput): Record<string, unknown>;
}
