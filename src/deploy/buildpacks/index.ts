/**
 * The ordered list of buildpacks a push goes through (architecture.md §7). Explicit order, no implicit plugin
 * discovery: a later buildpack (say, static files from `public/`) is an addition to this list.
 */
import { rhaiBuildpack } from './rhai.ts';
import type { Buildpack } from './types.ts';

export const BUILDPACKS: readonly Buildpack[] = [rhaiBuildpack];
export type { Buildpack, BuildInput, BuildOutput, BuiltScript, ScriptCache } from './types.ts';
