#!/usr/bin/env node
'use strict'
// Writes the tarballs a release publishes: one per platform package (npm/<platform>/, carrying
// that platform's .node) and the main package (JS, types, migrations, no binary: npm installs the
// one platform package that matches through its optionalDependencies). It packs the platforms
// whose binary was built and says which were not, so it works in CI where only `npm run build`'s
// linux-x64-gnu exists as well as after `npm run build:all`.
//
// Binaries come from the repository root (`npm run build`, the freshest dev build, which wins)
// and artifacts/ (scripts/build-all.sh). `napi artifacts` does the same copy into npm/<platform>/
// but refuses to run, and clears the other destinations, unless every target is built.
//
// The main package's optionalDependencies (every platform at the package's version) are written
// into the packed copy only, as napi-rs's `napi pre-publish` does at publish time: in the
// repository's package.json they would make `npm ci` fail while the platform packages are not
// on a registry ("Missing: … from lock file"), and send every install to look them up.
//
//   node scripts/pack-all.js [--out DIR] [--json]     (npm run pack:all; DIR defaults to packs/)
//
// Prints one line per tarball, or with --json the list [{ name, platform, file, size }].
// Also a module: examples/backend/scripts/setup.js and the tests pack with the same functions.

const { execFileSync } = require('node:child_process')
const { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join, resolve } = require('node:path')

const root = resolve(__dirname, '..')

/**
 * napi's own triple → platform mapping (`parseTriple`: x86_64-pc-windows-gnu → win32-x64-gnu).
 * Asked of a child node: @napi-rs/cli loads ESM-only modules that jest's loader cannot.
 */
function parseTriples(triples) {
  const script = "const {parseTriple}=require('@napi-rs/cli');console.log(JSON.stringify(process.argv.slice(1).map(parseTriple)))"
  return JSON.parse(execFileSync(process.execPath, ['-e', script, ...triples], { cwd: root, encoding: 'utf8' }))
}
const rootPackage = () => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Every platform in napi.targets: `{ triple, platform, os, arch, abi, file, dir, packageName }`. */
function platforms(pkg = rootPackage()) {
  return parseTriples(pkg.napi.targets).map(({ triple, platformArchABI: platform, platform: os, arch, abi }) => {
    return {
      triple,
      platform,
      os,
      arch,
      abi,
      file: `${pkg.napi.binaryName}.${platform}.node`,
      dir: join(root, 'npm', platform),
      packageName: `${pkg.name}-${platform}`,
    }
  })
}

/** `npm pack` of one package folder into `out`; returns `{ name, file, size }`. */
function pack(dir, out) {
  mkdirSync(out, { recursive: true })
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  )
  return { name: packed.name, file: join(out, packed.filename), size: packed.size, files: packed.files.map((f) => f.path) }
}

/**
 * Copies each built binary into its npm/<platform>/ folder (a binary left there from an older
 * build is removed: it must not ship as this version's); returns the platforms that have one.
 */
function collectBinaries() {
  const built = []
  for (const p of platforms()) {
    const dest = join(p.dir, p.file)
    const source = [join(root, p.file), join(root, 'artifacts', p.file)].find((f) => existsSync(f))
    if (source) {
      copyFileSync(source, dest)
      built.push(p)
    } else {
      rmSync(dest, { force: true })
    }
  }
  return built
}

/** Packs one platform package (its binary must be in npm/<platform>/: collectBinaries). */
function packPlatform(p, out) {
  return { ...pack(p.dir, out), platform: p.platform }
}

/**
 * Packs the main package. With `optionalDependencies` (a release) the packed package.json lists
 * every platform package at the same version; without (the local dev flow, which installs the
 * host's platform tarball beside it) it names none, so nothing is looked up on a registry.
 */
function packMain(out, { optionalDependencies = true } = {}) {
  if (!optionalDependencies) return { ...pack(root, out), platform: null }
  const staging = mkdtempSync(join(tmpdir(), 'webhook-processor-pack-'))
  try {
    const plain = pack(root, staging)
    execFileSync('tar', ['xzf', plain.file, '-C', staging])
    const manifestPath = join(staging, 'package', 'package.json')
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    manifest.optionalDependencies = Object.fromEntries(platforms(manifest).map((p) => [p.packageName, manifest.version]))
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
    return { ...pack(join(staging, 'package'), out), platform: null }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/** This machine's platform, if `npm run build` left its binary at the repository root; or null. */
function hostPlatform() {
  return platforms().find((p) => p.platform.startsWith(`${process.platform}-${process.arch}`) && existsSync(join(root, p.file))) ?? null
}

function main() {
  const i = process.argv.indexOf('--out')
  const out = i >= 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : join(root, 'packs')
  const built = collectBinaries()
  const results = built.map((p) => packPlatform(p, out))
  results.push(packMain(out))
  const missingBuilt = platforms()
    .filter((p) => !built.some((b) => b.platform === p.platform))
    .map((p) => p.platform)

  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(results.map(({ files, ...r }) => r), null, 2))
  } else {
    for (const r of results) console.log(`${r.file}  ${(r.size / 1e6).toFixed(2)} MB  ${r.name}`)
  }
  if (missingBuilt.length) console.error(`[pack:all] not built, not packed: ${missingBuilt.join(', ')} (npm run build:all builds them)`)
}

module.exports = { parseTriples, platforms, collectBinaries, packPlatform, packMain, hostPlatform, root }

if (require.main === module) main()
