// The few argument shapes the register, backfill and reconcile commands take: positionals,
// `--name value` (or `--name=value`) options and bare flags. Anything else is a usage error.

export interface ParsedArgs {
  positional: string[]
  values: Record<string, string | undefined>
  flags: Set<string>
}

export class UsageError extends Error {}

/** Parses `argv`; throws UsageError (with the usage line) on an unknown option or a missing value. */
export function parseArgs(argv: string[], spec: { values: string[]; flags: string[] }, usage: string): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: {}, flags: new Set() }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) {
      out.positional.push(arg)
      continue
    }
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    if (spec.flags.includes(name) && inline === undefined) {
      out.flags.add(name)
    } else if (spec.values.includes(name)) {
      const value = inline ?? argv[++i]
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value\n${usage}`)
      out.values[name] = value
    } else {
      throw new UsageError(`unknown option ${name}\n${usage}`)
    }
  }
  return out
}

/** Prints a usage error and returns the exit code 2. */
export function fail(message: string): number {
  console.error(message)
  return 2
}

/** Runs a command's main: exit code from it; a UsageError exits 2, any other failure 1 with its code. */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string }) => {
      if (err instanceof UsageError) {
        console.error(err.message)
        process.exit(2)
      }
      console.error(`${name} failed: ${err.code ? `[${err.code}] ` : ''}${err.message}`)
      process.exit(1)
    },
  )
}
