/**
 * Public entry of the Rhai implementation: the only module other folders import.
 * See README.md in this folder for the file map.
 */
export {
  compile,
  programToJSON,
  programFromJSON,
  recompileProgramJSON,
  Engine,
  fromJSON,
  toJSON,
  diagnosticError,
  runtimeError,
  type Diagnostic,
  type RunOptions,
  type CompileOptions,
  type LanguageOptions,
  type Program,
  type EngineOptions,
  type CallFnOptions,
} from './engine.ts';
export { ENGINE_VERSION } from './version.ts';
export { RhaiError, type EvalErrorKind, type Position } from './runtime/errors.ts';
export { scanImports, type ImportRef } from './imports.ts';
export {
  typeName,
  typeTag,
  RFloat,
  RChar,
  FnPtr,
  Timestamp,
  RRange,
  type Value,
  type TypeTag,
  type RMap,
} from './runtime/value.ts';
export { DEFAULT_LIMITS, type Limits } from './runtime/limits.ts';
export type { NativeFn, AsyncNativeFn, NativeFnOptions, NativeCallContext, Package } from './runtime/native.ts';
export { toDisplay, toDebug } from './runtime/format.ts';
export { Registry, type FnSignature } from './runtime/registry.ts';
export { standardPackages } from './stdlib/standard.ts';
export { lineCol } from './source.ts';
