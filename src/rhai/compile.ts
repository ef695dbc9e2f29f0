/**
 * The closure compiler (AST → JavaScript closures), as seen from engine.ts. The compiler lives in compile/ (see
 * src/rhai/README.md for its files); this module only re-exports what the engine uses.
 */
export { toRhaiError } from './compile/errors.ts';
export { Unit } from './compile/functions.ts';
export { compileUnit } from './compile/program.ts';
export { callPtr, callUnitFn, type EvalParser, newRunState, type RunOptions, runUnit } from './compile/run.ts';
