/**
 * Test-only helper: a minimal registrar + call context so stdlib packages can be unit-tested without the
 * parser/compiler. Function pointers whose `fn` payload is a JS function `(this: {value}, ...args) => Value`
 * act as script closures (their arity is the JS function's declared length).
 */
import type { NativeCallContext, NativeFn, NativeFnOptions, Package } from '../runtime/native.ts';
import { DEFAULT_LIMITS, type Limits } from '../runtime/limits.ts';
import { RhaiError } from '../runtime/errors.ts';
import { FnPtr, typeName, typeTag, type TypeTag, type Value } from '../runtime/value.ts';

interface Entry {
  params: TypeTag[];
  fn: NativeFn;
  pure: boolean;
}

export type JsClosure = (self: { value: Value }, ...args: Value[]) => Value;

export class TestKit {
  readonly fns = new Map<string, Entry[]>();
  limits: Limits = { ...DEFAULT_LIMITS };

  constructor(pkg: Package) {
    pkg({
      fn: (name: string, params: TypeTag[], fn: NativeFn, opts?: NativeFnOptions) => {
        const l = this.fns.get(name) ?? [];
        l.push({ params, fn, pure: opts?.pure !== false });
        this.fns.set(name, l);
      },
    });
  }

  resolve(name: string, args: Value[]): Entry | undefined {
    return this.fns.get(name)?.find((e) => e.params.length === args.length && e.params.every((p, i) => p === 'any' || p === typeTag(args[i])));
  }

  ctx(name: string): NativeCallContext {
    return {
      limits: this.limits,
      fnName: name,
      hasFn: (n, arity) => !!this.fns.get(n)?.some((e) => e.params.length === arity),
      callFn: (fp: FnPtr, args: Value[]): Value => {
        const all = [...fp.curry, ...args];
        if (typeof fp.fn === 'function') {
          const f = fp.fn as JsClosure;
          if (f.length - 1 !== all.length) {
            throw new RhaiError('ErrorFunctionNotFound', `Function not found: ${fp.name} (${all.map(typeName).join(', ')})`);
          }
          return f({ value: undefined }, ...all);
        }
        return this.call(fp.name, ...all);
      },
      fnArity: (fp) => (typeof fp.fn === 'function' ? (fp.fn as JsClosure).length - 1 - fp.curry.length : undefined),
      callFnWithThis: (fp: FnPtr, self: { value: Value }, args: Value[]): Value => {
        return (fp.fn as JsClosure)(self, ...fp.curry, ...args);
      },
    };
  }

  /** Call a registered function; returns the result. Mutations of args[0] are visible in `lastArgs`. */
  lastArgs: Value[] = [];
  call(name: string, ...args: Value[]): Value {
    const e = this.resolve(name, args);
    if (!e) throw new RhaiError('ErrorFunctionNotFound', `Function not found: ${name} (${args.map(typeName).join(', ')})`);
    this.lastArgs = args;
    return e.fn(this.ctx(name), args);
  }

  /** Call a mutating function and return [result, new first argument]. */
  mut(name: string, ...args: Value[]): [Value, Value] {
    const r = this.call(name, ...args);
    return [r, this.lastArgs[0]];
  }
}

/** A closure for tests: `closure((self, x) => ...)`. */
export function closure(f: JsClosure, name = 'anon$test'): FnPtr {
  return new FnPtr(name, [], f);
}
