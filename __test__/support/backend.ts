// The reference backend (examples/backend) in tests: in-process on port 0, or as a child
// process (node + run-backend.js), against the test file's own database and Redis key prefix.
// The package itself is this repository's lib/ (jest's moduleNameMapper, run-backend.js).
import { ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { sign } from '@octokit/webhooks-methods'
import { Backend, createBackend } from '../../examples/backend/src/app'
import { loadConfig } from '../../examples/backend/src/config'
import type { Logger } from '../../examples/backend/src/logger'
import { eventually } from '../helpers/eventually'
import { SHARED_REDIS_URL } from '../helpers/redis'
import { suiteDriver } from './driver'

export const ROOT = resolve(__dirname, '..', '..')
export const SECRET = 'e2e-webhook-secret'

/** The environment of a backend on the test's database and key prefix (nothing migrated or seeded by it, no metrics consumer), on the suite's queue driver. */
export function backendEnv(databaseUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: SHARED_REDIS_URL,
    QUEUE_PREFIX: `${prefix}bull`,
    CACHE_KEY_PREFIX: `${prefix}cache:`,
    GITHUB_WEBHOOK_SECRET: SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    MIGRATE: 'false',
    SEED_SAMPLE: 'false',
    QUEUE_UI: 'true',
    WORKER_CONCURRENCY: '4',
    RETRY_BASE_DELAY_MS: '50',
    STALLED_INTERVAL_MS: '500',
    LOG_LEVEL: 'info',
    QUEUE_DRIVER: suiteDriver.current,
    // The metric jobs stay on the queue for the tests that read them; metrics-consumer.test.ts turns it on.
    METRICS_CONSUMER: 'false',
    ...extra,
  }
}

export interface LogLine {
  level: string
  message: string
  [key: string]: unknown
}

/** A logger that keeps what it is told. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: string) => (message: string, meta: Record<string, unknown> = {}) => lines.push({ ...meta, level, message })
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export interface RunningBackend {
  backend: Backend
  url: string
  logger: ReturnType<typeof memoryLogger>
}

/** createBackend + listen on a free port, in this process. */
export async function startBackend(env: Record<string, string>, role: 'all' | 'api' | 'worker' = 'all'): Promise<RunningBackend> {
  const logger = memoryLogger()
  const backend = await createBackend(loadConfig(env, [`--role=${role}`]), { logger })
  const { url } = await backend.listen()
  return { backend, url, logger }
}

export interface DeliveryResponse {
  status: number
  body: any
  deliveryId: string
}

/** POSTs a delivery signed with `secret` (the test secret by default), as GitHub does. */
export async function deliver(
  url: string,
  event: string,
  payload: unknown,
  opts: { deliveryId?: string; secret?: string; headers?: Record<string, string | null> } = {},
): Promise<DeliveryResponse> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload)
  const deliveryId = opts.deliveryId ?? randomUUID()
  const headers: Record<string, string | null> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': deliveryId,
    'x-hub-signature-256': await sign(opts.secret ?? SECRET, body),
    ...opts.headers,
  }
  const res = await fetch(`${url}/api/webhooks/github`, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== null)) as Record<string, string>,
    body,
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, deliveryId }
}

/** A fixture of __test__/fixtures, parsed (a fresh copy each call). */
export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8'))
}

const sha = () => randomBytes(20).toString('hex')

/** The push fixture with `count` commits of fresh SHAs (plus `shared` ones, if given), all by octocat. */
export function pushWithFreshCommits(count = 2, shared: string[] = []): { payload: any; shas: string[] } {
  const payload = fixture('push-event.json')
  const template = payload.commits[0]
  const shas = [...Array.from({ length: count }, sha), ...shared]
  payload.commits = shas.map((id, i) => ({ ...template, id, tree_id: sha(), message: `change ${i}` }))
  payload.head_commit = payload.commits[payload.commits.length - 1]
  payload.after = payload.head_commit.id
  return { payload, shas }
}

export function randomSha(): string {
  return sha()
}

/** A queue of either driver (a Bull queue, or the backend's BullMQ adapter), as far as these helpers read it. */
interface JobStates {
  getJob(id: string): Promise<{ getState(): Promise<string> } | null | undefined>
}
interface JobCounts {
  getJobCounts(): Promise<{ waiting: number; active: number; delayed: number }>
}

/** Waits until every job is completed or failed; returns their states. */
export async function settled(queue: JobStates, ids: string[], timeoutMs = 30_000): Promise<Record<string, string>> {
  const states = await eventually(
    async () => {
      const entries = await Promise.all(ids.map(async (id) => [id, (await (await queue.getJob(id))?.getState()) ?? 'missing'] as const))
      return Object.fromEntries(entries)
    },
    (s) => Object.values(s).every((state) => state === 'completed' || state === 'failed'),
    { timeoutMs, intervalMs: 50 },
  )
  return states
}

/** Waits until the queue has nothing waiting, delayed or active. */
export async function drained<C extends { waiting: number; active: number; delayed: number }>(
  queue: { getJobCounts(): Promise<C> },
  timeoutMs = 60_000,
): Promise<C> {
  return eventually(
    () => queue.getJobCounts(),
    (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0,
    { timeoutMs, intervalMs: 100 },
  )
}

/** A backend in a child process: `node run-backend.js <entry> [args]`, its JSON log lines collected. */
export class BackendProcess {
  readonly lines: LogLine[] = []
  readonly exited: Promise<number | null>
  private stderr = ''

  private constructor(private readonly child: ChildProcess) {
    let buffered = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          this.lines.push(JSON.parse(line))
        } catch {
          this.lines.push({ level: 'stdout', message: line })
        }
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }

  /** A TypeScript entry of examples/backend/src, run from source against this repository's lib/. */
  static start(entry: string, args: string[], env: Record<string, string>): BackendProcess {
    return BackendProcess.node([join(__dirname, 'run-backend.js'), join(ROOT, entry), ...args], env)
  }

  /** `node <args>`, for the compiled backend (examples/backend/dist) with its installed packages. */
  static node(args: string[], env: Record<string, string>): BackendProcess {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new BackendProcess(child)
  }

  get pid(): number {
    return this.child.pid!
  }

  /** The first log line with this message (waits for it, or fails with what the process said). */
  async line(message: string, timeoutMs = 30_000): Promise<LogLine> {
    let exitCode: number | null | undefined
    void this.exited.then((c) => (exitCode = c))
    const found = await eventually(
      async () => this.lines.find((l) => l.message === message) ?? (exitCode !== undefined ? 'exited' : null),
      (l) => l !== null,
      { timeoutMs, intervalMs: 25 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nstderr: ${this.stderr}\nlog: ${JSON.stringify(this.lines.slice(-5))}`)
    })
    if (found === 'exited') throw new Error(`process exited (${exitCode}) before logging "${message}": ${this.stderr}`)
    return found as LogLine
  }

  /** The URL the backend listens on, once started. */
  async url(): Promise<string> {
    return (await this.line('backend started')).url as string
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  /** Kills the process if it still runs (test cleanup). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }

  get errors(): string {
    return this.stderr
  }
}
