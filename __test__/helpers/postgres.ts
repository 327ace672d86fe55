// A private PostgreSQL server for tests that stop, crash or restart the database: initdb
// into a temporary folder, started with pg_ctl on a free port, removed by destroy(). The
// shared server on 5432 is never touched. As root (CI) the server runs as user postgres
// through `runuser -u postgres --`, since PostgreSQL refuses to run as root.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Client } from 'pg'
import { freePort } from './redis'

const run = promisify(execFile)

/** The PostgreSQL binaries of the installed server (initdb and pg_ctl are not on every PATH). */
async function binDir(): Promise<string> {
  const { stdout } = await run('pg_config', ['--bindir'])
  return stdout.trim()
}

const asRoot = () => userInfo().uid === 0

export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
  ) {}

  /** The admin URL (database `postgres`). */
  get url(): string {
    return this.urlOf('postgres')
  }

  urlOf(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  /** initdb, then start. */
  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'wp-pg-'))
    const server = new PrivatePostgres(await freePort(), dir, await binDir())
    try {
      if (asRoot()) chownSync(dir, pgUid(), pgGid())
      await server.pg('initdb', ['-D', server.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
      // fsync off: a server crash (not an OS crash) loses nothing with it. synchronous_commit
      // stays on: off, an immediate shutdown lost acknowledged commits, which Bull had
      // already marked completed (found by fault-injection.test.ts).
      writeFileSync(
        join(server.data, 'postgresql.auto.conf'),
        [`port = ${server.port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`, 'fsync = off',
          'full_page_writes = off', 'max_connections = 50', ''].join('\n'),
      )
      if (asRoot()) chownSync(join(server.data, 'postgresql.auto.conf'), pgUid(), pgGid())
      await server.startServer()
      return server
    } catch (err) {
      rmSync(dir, { recursive: true, force: true })
      throw err
    }
  }

  private get data(): string {
    return join(this.dir, 'data')
  }

  /** Runs a PostgreSQL binary as the server's user. */
  private async pg(tool: string, args: string[]): Promise<void> {
    const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args]] : [join(this.bin, tool), args]
    await run(cmd, argv, { timeout: 60_000 })
  }

  /** Starts the server and waits until it accepts connections (pg_ctl -w). */
  async startServer(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start'])
  }

  /**
   * Stops the server. `fast` ends every session (clients see 57P01 admin_shutdown) and shuts
   * down cleanly; `immediate` is a crash: no shutdown checkpoint, recovery at the next start.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'stop'])
  }

  async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.stop(mode)
    await this.startServer()
  }

  /** A database on this server. */
  async createDatabase(name: string): Promise<string> {
    const client = new Client({ connectionString: this.url })
    await client.connect()
    try {
      await client.query(`CREATE DATABASE ${name}`)
    } finally {
      await client.end()
    }
    return this.urlOf(name)
  }

  /** Stops the server (if it runs) and removes its folder. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** uid and gid of the postgres account, which owns the server's files when we are root. */
function pgUid(): number {
  return Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
}

function pgGid(): number {
  return Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
}
