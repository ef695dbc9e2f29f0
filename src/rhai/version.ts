/**
 * The engine version: the name of the serialised program format (programToJSON) and of the parser output it holds.
 * It is part of every AST cache key (sha256(ENGINE_VERSION NUL source), src/deploy/engine.ts), and an executor runs
 * a stored program only when it was compiled under this same version; any other it compiles again from the source
 * the program carries. So a rolling upgrade never runs an AST with an engine that did not produce it, and the key
 * is the same whether this code runs from src/ or dist/.
 *
 * Bump it whenever the JSON that programToJSON writes for a given source changes (a node kind, a field, an
 * offset, a parse option): version.test.ts holds the hash of a fixed corpus per version and fails until the bump.
 */
export const ENGINE_VERSION = 'rhai-ts/1';
