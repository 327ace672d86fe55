// What the numbers were measured on: CPU, cores, memory, kernel, load, and the versions of
// everything in the path (Node, PostgreSQL, pgbench, Redis, the addon, rustc, Prisma, pg, Bull).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { Client } from 'pg'
import type { MachineInfo } from './results'

const root = join(__dirname, '..')

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim().split('\n')[0]
  } catch {
    return 'n/a'
  }
}

function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'n/a'
  }
}

export async function describeMachine(adminUrl: string): Promise<MachineInfo> {
  let postgres = 'n/a'
  const client = new Client({ connectionString: adminUrl })
  try {
    await client.connect()
    postgres = (await client.query('SHOW server_version')).rows[0].server_version
  } catch {
    // reported as n/a
  } finally {
    await client.end().catch(() => undefined)
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'n/a',
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    versions: {
      node: process.version,
      postgresql: postgres,
      pgbench: command('pgbench', ['--version']),
      redis: command('redis-server', ['--version']),
      addon: `${pkg.name} ${pkg.version} (git ${command('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])})`,
      rustc: command('rustc', ['--version']),
      prisma: packageVersion('@prisma/client'),
      pg: packageVersion('pg'),
      bull: packageVersion('bull'),
    },
  }
}
