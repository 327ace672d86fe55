#!/usr/bin/env node
'use strict'
// Linker stubs for the macOS frameworks our dependencies link, so scripts/build-all.sh can link
// darwin binaries with zig and no Apple SDK. zig brings libSystem but no frameworks, and two
// dependencies need them: chrono's `clock` (iana-time-zone → CoreFoundation) and sqlx-postgres
// (whoami → CoreFoundation, SystemConfiguration). An SDK's frameworks are text stubs (.tbd)
// naming the library's install path and its symbols; these are the same, made from the
// `extern` declarations in the crates that link each framework. The binary then loads the
// real framework from /System/Library/Frameworks on the Mac; scripts/run-platforms.sh lists
// what it binds from each.
//
//   node scripts/macos-stubs.js <dir>     → <dir>/<Name>.framework/<Name>.tbd, prints <dir>

const { execFileSync } = require('node:child_process')
const { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } = require('node:fs')
const { dirname, join, resolve } = require('node:path')

const root = resolve(__dirname, '..')

/** Which symbols each framework exports, by Apple's naming prefix. */
const PREFIXES = { CoreFoundation: /^(CF|kCF|__kCF)/, SystemConfiguration: /^(SC|kSC)/ }

function rustFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const st = statSync(path)
    if (st.isDirectory()) rustFiles(path, out)
    else if (name.endsWith('.rs')) out.push(path)
  }
  return out
}

function main() {
  const out = resolve(process.argv[2] || join(root, 'target', 'macos-stubs'))
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--format-version', '1', '--locked', '--filter-platform', 'aarch64-apple-darwin'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  )
  const frameworks = new Map() // name → Set of symbols
  for (const pkg of metadata.packages) {
    const lib = pkg.targets.find((t) => t.kind.some((k) => k.endsWith('lib')))
    if (!lib) continue
    const sources = rustFiles(dirname(lib.src_path))
    const texts = sources.map((f) => readFileSync(f, 'utf8'))
    const linked = new Set(texts.flatMap((t) => [...t.matchAll(/\blink\(name\s*=\s*"(\w+)",\s*kind\s*=\s*"framework"\)/g)].map((m) => m[1])))
    if (!linked.size) continue
    const declared = texts.flatMap((t) => [...t.matchAll(/\b(?:fn|static)\s+(\w+)\s*[(:]/g)].map((m) => m[1]))
    for (const name of linked) {
      if (!PREFIXES[name]) throw new Error(`${pkg.name} links the ${name} framework: add its symbol prefix to scripts/macos-stubs.js`)
      if (!frameworks.has(name)) frameworks.set(name, new Set())
      for (const symbol of declared) if (PREFIXES[name].test(symbol)) frameworks.get(name).add(symbol)
    }
  }
  for (const [name, symbols] of frameworks) {
    const dir = join(out, `${name}.framework`)
    mkdirSync(dir, { recursive: true })
    const list = [...symbols].sort().map((s) => `_${s}`)
    writeFileSync(
      join(dir, `${name}.tbd`),
      [
        '--- !tapi-tbd',
        'tbd-version:     4',
        'targets:         [ x86_64-macos, arm64-macos ]',
        `install-name:    '/System/Library/Frameworks/${name}.framework/Versions/A/${name}'`,
        'exports:',
        '  - targets:         [ x86_64-macos, arm64-macos ]',
        `    symbols:         [ ${list.join(', ')} ]`,
        '...',
        '',
      ].join('\n'),
    )
    console.error(`[macos-stubs] ${name}: ${list.length} symbols`)
  }
  console.log(out)
}

main()
