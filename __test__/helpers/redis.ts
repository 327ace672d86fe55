// Redis for tests: the shared server with a key prefix per test file, and private
// redis-server instances on their own ports for tests that stop Redis.
import { ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test uses; `cleanup` deletes its keys. */
export function testPrefix(): { prefix: string; cleanup(): Promise<void> } {
  const prefix = `wptest:${randomUUID().slice(0, 8)}:`
  return {
    prefix,
    async cleanup() {
      const redis = new Redis(SHARED_REDIS_URL)
      try {
        const keys = await redis.keys(`${prefix}*`)
        if (keys.length) await redis.del(...keys)
      } finally {
        redis.disconnect()
      }
    },
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** A private redis-server on its own port, which a test may stop and start again. */
export class PrivateRedis {
  private process: ChildProcess | null = null
  private readonly dir = mkdtempSync(join(tmpdir(), 'wp-redis-'))
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort())
    await redis.start()
    return redis
  }

  /** Starts redis-server and resolves once it logs that it accepts connections. */
  async start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    this.process = proc
    await new Promise<void>((resolve, reject) => {
      let log = ''
      proc.stdout?.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        if (log.includes('Ready to accept connections')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)))
    })
  }

  async stop(): Promise<void> {
    const proc = this.process
    if (!proc) return
    this.process = null
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }

  async destroy(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
