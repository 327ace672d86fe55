// A private npm registry (Verdaccio, __test__/registry/verdaccio.yaml) on a free 127.0.0.1 port
// with its storage in a temporary folder, and an npm that talks to it only: the packages are
// published and installed the way users install them. Our packages come only from what the
// test published; their dependencies come through Verdaccio from npm's configured registry.
import { ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { eventually } from '../helpers/eventually'

const ROOT = resolve(__dirname, '..', '..')
const VERDACCIO = join(ROOT, 'node_modules', 'verdaccio', 'bin', 'verdaccio')

export interface LocalRegistry {
  url: string
  /** Runs npm against this registry only (own cache and npmrc under `dir`); returns stdout. */
  npm(args: string[], cwd: string): string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

/** The environment without the npm_config_* that `npm test` exports (a registry, a userconfig). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_config_/i.test(k)) env[k] = v
  return env
}

/** Starts Verdaccio with its storage, htpasswd, npmrc and npm cache under `dir`. */
export async function startRegistry(dir: string): Promise<LocalRegistry> {
  mkdirSync(dir, { recursive: true })
  // Upstream for the dependencies: the registry npm uses here (never for @devmetrics/*).
  const upstream = execFileSync('npm', ['config', 'get', 'registry'], { env: cleanEnv(), encoding: 'utf8' }).trim()
  const config = readFileSync(join(ROOT, '__test__', 'registry', 'verdaccio.yaml'), 'utf8').replace('url: UPSTREAM_REGISTRY', `url: ${upstream}`)
  writeFileSync(join(dir, 'verdaccio.yaml'), config)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  let output = ''
  let exited: number | null | undefined
  const child: ChildProcess = spawn(process.execPath, [VERDACCIO, '--config', join(dir, 'verdaccio.yaml'), '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const gone = new Promise<void>((done) =>
    child.once('exit', (code) => {
      exited = code
      done()
    }),
  )

  await eventually(
    async () => {
      if (exited !== undefined) throw new Error(`verdaccio exited with ${exited}:\n${output}`)
      return fetch(`${url}-/ping`).then(
        (r) => r.ok,
        () => false,
      )
    },
    (ok) => ok,
    { timeoutMs: 60_000, intervalMs: 100 },
  )

  // Any token publishes ($all in the config); npm only needs one to send.
  const npmrc = join(dir, 'npmrc')
  writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=test-token\n`)
  const env = cleanEnv()
  const common = ['--registry', url, '--userconfig', npmrc, '--cache', join(dir, 'npm-cache'), '--no-audit', '--no-fund', '--no-update-notifier']
  return {
    url,
    npm: (args, cwd) => execFileSync('npm', [...args, ...common], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM')
        await gone
      }
    },
  }
}
