/**
 * A small argv parser for the client verbs: `--flag`, `--flag value`, `--flag=value`, `-a APP`, `-aAPP`, `-n2`,
 * bundled short booleans (`-th`), positionals.
 */

export interface FlagSpec {
  /** flags that take a value, with their short aliases: { app: 'a', branch: 'b' } */
  values: Record<string, string | null>;
  /** boolean flags */
  bools: Record<string, string | null>;
}

export interface Parsed {
  flags: Record<string, string | true>;
  positionals: string[];
}

export class UsageError extends Error {}

/** Parse argv against a spec; unknown flags and missing values are UsageErrors. */
export function parseArgs(argv: string[], spec: FlagSpec): Parsed {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, { name: string; takesValue: boolean }>();
  for (const [name, short] of Object.entries(spec.values)) if (short) byShort.set(short, { name, takesValue: true });
  for (const [name, short] of Object.entries(spec.bools)) if (short) byShort.set(short, { name, takesValue: false });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    } else if (/^-[A-Za-z]/.test(a)) {
      const s = byShort.get(a[1]!);
      if (!s) throw new UsageError(`unknown option -${a[1]}`);
      name = s.name;
      if (a.length > 2) {
        if (s.takesValue) inline = a.slice(2); // -n2, -ashop
        else {
          // bundled booleans: -th = -t -h
          flags[name] = true;
          for (const ch of a.slice(2)) {
            const b = byShort.get(ch);
            if (!b || b.takesValue) throw new UsageError(`unknown option ${a} (short options that take a value cannot be bundled)`);
            flags[b.name] = true;
          }
          continue;
        }
      }
    } else {
      positionals.push(a);
      continue;
    }
    if (name in spec.values) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`option --${name} needs a value`);
      flags[name] = v;
    } else if (name in spec.bools) {
      if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags[name] = true;
    } else {
      throw new UsageError(`unknown option ${a}`);
    }
  }
  return { flags, positionals };
}
