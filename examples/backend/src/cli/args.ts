// The one argument parser of the backend's commands (send-sample, replay, register, backfill,
// reconcile, reprocess, main): Node's util.parseArgs with `strict: true`, so an unknown option
// or a missing value is a usage error before the command does anything, and `--help` (`-h`)
// prints the command's usage and exits 0 without doing anything either.
//
// A command declares its options by their full spelling and passes its usage text:
//
//   const USAGE = 'usage: npm run backfill -- owner/repo [--since 90d] [--restart]\n…'
//   async function main(argv: string[]): Promise<number> {
//     const args = parseArgs(argv, { values: ['--since'], flags: ['--restart'] }, USAGE)
//     …args.positional, args.values['--since'], args.flags.has('--restart')…
//   }
//   runCli('backfill', main)
//
// Usage errors exit 2, other failures 1 (with the error's code), as runCli does below.
import { parseArgs as nodeParseArgs } from 'node:util'

export interface ParsedArgs {
  /** The arguments that are not options, in order (anything after `--` included). */
  positional: string[]
  /** Options that take a value, by full spelling (`'--since'`): the last one given. */
  values: Record<string, string | undefined>
  /** Repeatable options (`lists` in the spec), every value given, in order ([] when none). */
  lists: Record<string, string[]>
  /** Bare flags given (`'--restart'`). */
  flags: Set<string>
}

export interface ArgsSpec {
  /** Options that take a value: `--name value` or `--name=value`. */
  values: string[]
  /** Bare flags: `--name`. */
  flags: string[]
  /** Options that take a value and may be given more than once. */
  lists?: string[]
  /** Whether arguments that are not options are accepted (default true; the command checks how many). */
  positionals?: boolean
}

/** A usage error: the command did nothing; runCli prints the message and exits 2. */
export class UsageError extends Error {}

/** `--help` or `-h` was given: runCli prints the usage on stdout and exits 0. */
export class HelpRequested extends Error {}

const longName = (option: string): string => {
  if (!/^--[a-z][a-z0-9-]*$/.test(option)) throw new Error(`args.ts: options are spelled --name, not ${option}`)
  return option.slice(2)
}

/**
 * Parses `argv` (strictly: util.parseArgs with `strict: true`). Throws HelpRequested on
 * `--help`/`-h`, and UsageError (its message followed by the usage) on an unknown option, a
 * missing or empty value, a value given to a flag, or a positional argument where none is taken.
 */
export function parseArgs(argv: string[], spec: ArgsSpec, usage: string): ParsedArgs {
  type Option = { type: 'string' | 'boolean'; multiple?: boolean; short?: string }
  const options: Record<string, Option> = { help: { type: 'boolean', short: 'h' } }
  for (const v of spec.values) options[longName(v)] = { type: 'string' }
  for (const f of spec.flags) options[longName(f)] = { type: 'boolean' }
  for (const l of spec.lists ?? []) options[longName(l)] = { type: 'string', multiple: true }
  let parsed: ReturnType<typeof nodeParseArgs>
  try {
    parsed = nodeParseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals ?? true })
  } catch (err) {
    const e = err as Error & { code?: string }
    if (!e.code?.startsWith('ERR_PARSE_ARGS_')) throw err
    // util.parseArgs says what is wrong, then (for an unknown option) how to pass it as a
    // positional; a --help anywhere still wins over the error.
    if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(usage)
    const unknown = /^Unknown option '([^']+)'/.exec(e.message)
    const missing = /^Option '(-[^ ']+)(?: <value>)?' argument missing/.exec(e.message)
    const message = unknown ? `unknown option ${unknown[1]}` : missing ? `${missing[1]} needs a value` : e.message
    throw new UsageError(`${message}\n${usage}`)
  }
  if (parsed.values.help) throw new HelpRequested(usage)
  const out: ParsedArgs = { positional: parsed.positionals, values: {}, lists: {}, flags: new Set() }
  for (const v of spec.values) {
    const value = parsed.values[longName(v)] as string | undefined
    if (value === '') throw new UsageError(`${v} needs a value\n${usage}`)
    out.values[v] = value
  }
  for (const f of spec.flags) if (parsed.values[longName(f)]) out.flags.add(f)
  for (const l of spec.lists ?? []) {
    const list = (parsed.values[longName(l)] as string[] | undefined) ?? []
    if (list.includes('')) throw new UsageError(`${l} needs a value\n${usage}`)
    out.lists[l] = list
  }
  return out
}

/** Prints a usage error and returns the exit code 2. */
export function fail(message: string): number {
  console.error(message)
  return 2
}

/**
 * Runs a command's main with `process.argv.slice(2)`: exits with the code it returns; on
 * HelpRequested prints the usage on stdout and exits 0; on a UsageError prints it and exits 2;
 * on any other failure prints `<name> failed: [CODE] message` and exits 1.
 */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string }) => {
      if (err instanceof HelpRequested) {
        console.log(err.message)
        process.exit(0)
      }
      if (err instanceof UsageError) {
        console.error(err.message)
        process.exit(2)
      }
      console.error(`${name} failed: ${err.code ? `[${err.code}] ` : ''}${err.message}`)
      process.exit(1)
    },
  )
}
