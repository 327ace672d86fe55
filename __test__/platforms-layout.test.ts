// The per-platform package layout that lets a Mac, Windows, Alpine or arm64 user install the
// package (docs/platforms.md): one npm/<platform>/ package per napi.targets entry, as
// `napi create-npm-dirs` generates it, each installed by npm only where its os/cpu/libc match.
// A fresh machine checks this in seconds; the binaries themselves are built by
// scripts/build-all.sh, which CI does not run.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseTriples } = require('../scripts/pack-all.js')

const root = resolve(__dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'))

/** DESIGN.md's set: linux x64/arm64 gnu and musl, darwin x64/arm64, windows x64. */
const EXPECTED = ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-gnu']

test('napi.targets is the platform set every DevMetrics user runs, one npm/ package each', () => {
  const platforms = parseTriples(pkg.napi.targets).map((t: { platformArchABI: string }) => t.platformArchABI)
  expect([...platforms].sort()).toEqual([...EXPECTED].sort())
  expect(readdirSync(join(root, 'npm')).sort()).toEqual([...EXPECTED].sort())
})

test('each platform package is the one napi create-npm-dirs generates, at the main package’s version', () => {
  // napi writes only inside the project: a scratch folder under the git-ignored target/.
  mkdirSync(join(root, 'target'), { recursive: true })
  const generated = mkdtempSync(join(root, 'target', 'npm-dirs-'))
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'create-npm-dirs', '--npm-dir', generated], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    for (const platform of EXPECTED) {
      const committed = readJson(join(root, 'npm', platform, 'package.json'))
      const fresh = readJson(join(generated, platform, 'package.json'))
      // The one edit: napi gives windows-gnu `libc: ["glibc"]`, and npm then refuses the
      // package on Windows, where it finds no libc (npm-install-checks): docs/platforms.md.
      if (platform === 'win32-x64-gnu') delete fresh.libc
      expect({ platform, ...committed }).toEqual({ platform, ...fresh })
      expect(committed).toMatchObject({
        name: `${pkg.name}-${platform}`,
        version: pkg.version,
        main: `${pkg.napi.binaryName}.${platform}.node`,
        files: [`${pkg.napi.binaryName}.${platform}.node`],
      })
    }
  } finally {
    rmSync(generated, { recursive: true, force: true })
  }
})

test('npm installs each platform package only on its os, cpu and (on Linux only) libc', () => {
  for (const { platform, arch, abi, platformArchABI } of parseTriples(pkg.napi.targets)) {
    const manifest = readJson(join(root, 'npm', platformArchABI, 'package.json'))
    expect({ platformArchABI, os: manifest.os, cpu: manifest.cpu }).toEqual({ platformArchABI, os: [platform], cpu: [arch] })
    const libc = platform === 'linux' ? [abi === 'musl' ? 'musl' : 'glibc'] : undefined
    expect({ platformArchABI, libc: manifest.libc }).toEqual({ platformArchABI, libc })
  }
})

test('the main package ships no binary, and its index.js knows every platform package', () => {
  expect(pkg.files.filter((f: string) => f.includes('.node'))).toEqual([])
  // optionalDependencies are written at pack/publish time (scripts/pack-all.js, napi pre-publish):
  // in the repository they would break `npm ci` until the platform packages are published.
  expect(pkg.optionalDependencies).toBeUndefined()
  // A root `npm publish` first checks that every target is built (napi artifacts refuses
  // otherwise), then publishes the platform packages and writes the optionalDependencies.
  expect(pkg.scripts.prepublishOnly).toBe('napi artifacts -d artifacts && napi pre-publish -t npm')
  const indexJs = readFileSync(join(root, 'index.js'), 'utf8')
  for (const platform of EXPECTED) expect(indexJs).toContain(`require('${pkg.name}-${platform}')`)
})
