/**
 * The closure compiler (AST → JavaScript closures), as seen from engine.ts and resumable.ts. The compiler lives in
 * compile/ (see src/rhai/README.md for its files); this module only re-exports its surface.
 */
export { compileAssign } from './compile/assign.ts';
export { type CallSiteCache, resolveCached } from './compile/calls.ts';
export { errFnNotFound, fill, mkErr, throwValue, toRhaiError } from './compile/errors.ts';
export { chainHasOptional, compileExpr, compileValue, isFresh, type SlotExpr } from './compile/expressions.ts';
export { callFnPtr, callNative, type GenCompiler, newFrame, resolvePtr, ScriptFn, Unit, type UnitOptions, wrapFnError } from './compile/functions.ts';
export { forBind, forScope, forSource } from './compile/loops.ts';
export { checkDataRace, checkMethodDataRace, methodRootVar } from './compile/methods.ts';
export { compileImportBinding, compileModuleRef } from './compile/modules.ts';
export { compilePlace, isPlaceExpr } from './compile/places.ts';
export { analyse, compileUnit, enterDynamic } from './compile/program.ts';
export { callPtr, callUnitFn, currentRun, enterRun, type EvalParser, getCtl, invoke, leaveRun, newRunState, progressAfterResume, type RunOptions, type RunState, runUnit, setCtl, settleThrown, tick, tick1, tickN } from './compile/run.ts';
export { dynOf, FnCtx, makeDynAccessor } from './compile/scope.ts';
export { checkSize } from './compile/sizes.ts';
export { catchValue, caughtError, compileBlockS, compileBool, compileLet, compileStmt, compileStmtAsValue, exprWeight } from './compile/statements.ts';
export { buildSwitch, pickCase } from './compile/switch.ts';
