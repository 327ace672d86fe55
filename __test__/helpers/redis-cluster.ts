// A private Redis Cluster for tests: six redis-server processes (three masters, one replica
// each) on free loopback ports, in temporary folders, joined by `redis-cli --cluster create`,
// and torn down by destroy(). The shared Redis on 6379 is never touched.
import { ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Redis from 'ioredis'
import { eventually } from './eventually'
import { freePort } from './redis'

const run = promisify(execFile)

interface ClusterNode {
  port: number
  busPort: number
  dir: string
  process: ChildProcess
}

export class PrivateRedisCluster {
  private constructor(private readonly nodes: ClusterNode[]) {}

  /** Every node's URL (startup nodes for a cluster client), comma-separated. */
  get urls(): string {
    return this.nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(',')
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port)
  }

  /** Starts `masters` masters with one replica each and waits until every slot is served. */
  static async start(masters = 3): Promise<PrivateRedisCluster> {
    const nodes: ClusterNode[] = []
    try {
      for (let i = 0; i < masters * 2; i++) nodes.push(await startNode())
      const cluster = new PrivateRedisCluster(nodes)
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 60_000,
      })
      await eventually(
        () => cluster.allNodes((r) => r.cluster('INFO') as Promise<string>),
        (infos) => infos.every((i) => /cluster_state:ok/.test(i) && /cluster_slots_ok:16384/.test(i) && /cluster_known_nodes:6/.test(i)),
        { timeoutMs: 60_000, intervalMs: 100 },
      )
      // Every node knows every replica, and every replica is in sync with its master (or a failover could not start).
      await eventually(
        () => cluster.allNodes(async (r) => [(await r.cluster('NODES')) as string, await r.info('replication')] as const),
        (views) =>
          views.every(([nodes]) => nodes.trim().split('\n').filter((l) => l.split(' ')[2].includes('slave')).length === masters) &&
          views.filter(([, info]) => /role:slave/.test(info)).every(([, info]) => /master_link_status:up/.test(info)) &&
          views.filter(([, info]) => /role:slave/.test(info)).length === masters,
        { timeoutMs: 60_000, intervalMs: 100 },
      )
      return cluster
    } catch (err) {
      await Promise.all(nodes.map(stopNode))
      throw err
    }
  }

  /** Runs `fn` on a plain connection to each node. */
  private async allNodes<T>(fn: (r: Redis) => Promise<T>): Promise<T[]> {
    return Promise.all(this.nodes.map((n) => this.onNode(n.port, fn)))
  }

  private async onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await r.connect()
      return await fn(r)
    } finally {
      r.disconnect()
    }
  }

  /** Port of the master serving the slot of `key` (or its hash tag), and of a replica of it. */
  async ownerOf(key: string): Promise<{ master: number; replica: number }> {
    const port = this.nodes[0].port
    const slot = (await this.onNode(port, (r) => r.cluster('KEYSLOT', key))) as number
    const lines = ((await this.onNode(port, (r) => r.cluster('NODES'))) as string).trim().split('\n')
    const entries = lines.map((l) => l.split(' '))
    const master = entries.find(
      ([, , flags, , , , , , ...ranges]) =>
        flags.includes('master') &&
        !flags.includes('fail') &&
        ranges.some((range) => {
          const [from, to = from] = range.split('-').map(Number)
          return slot >= from && slot <= to
        }),
    )
    if (!master) throw new Error(`no master serves slot ${slot}`)
    const replica = entries.find(([, , flags, masterId]) => flags.includes('slave') && masterId === master[0])
    if (!replica) throw new Error(`the master of slot ${slot} has no replica`)
    const portOf = (address: string) => Number(address.split('@')[0].split(':').pop())
    return { master: portOf(master[1]), replica: portOf(replica[1]) }
  }

  /**
   * `CLUSTER FAILOVER` on the replica of the master serving `key`: the replica catches up with
   * its master, then takes its slots over. Resolves once the replica answers as the master.
   */
  async failover(key: string): Promise<{ from: number; to: number }> {
    const { master, replica } = await this.ownerOf(key)
    // A manual failover the master does not confirm in time (it pauses its clients meanwhile)
    // is abandoned by Redis without an error: ask again until the replica has taken over.
    await eventually(
      async () => {
        await this.onNode(replica, (r) => r.cluster('FAILOVER'))
        return eventually(
          () => this.onNode(replica, (r) => r.role() as Promise<unknown[]>),
          (role) => role[0] === 'master',
          { timeoutMs: 10_000, intervalMs: 50 },
        ).then(
          () => true,
          () => false,
        )
      },
      (promoted) => promoted,
      { timeoutMs: 60_000, intervalMs: 0 },
    )
    await eventually(
      () => this.ownerOf(key).then((o) => o.master, () => 0),
      (owner) => owner === replica,
      { timeoutMs: 30_000, intervalMs: 50 },
    )
    return { from: master, to: replica }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map(stopNode))
  }
}

async function startNode(): Promise<ClusterNode> {
  const port = await freePort()
  const busPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'wp-redis-cluster-'))
  const proc = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--cluster-port', String(busPort),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, 'nodes.conf'),
      '--cluster-node-timeout', '5000',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve, reject) => {
    let log = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes('Ready to accept connections')) resolve()
    })
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${log}`)))
  })
  proc.stdout?.resume()
  return { port, busPort, dir, process: proc }
}

async function stopNode(node: ClusterNode): Promise<void> {
  if (node.process.exitCode === null && node.process.signalCode === null) {
    const exited = new Promise((resolve) => node.process.once('exit', resolve))
    node.process.kill('SIGKILL')
    await exited
  }
  rmSync(node.dir, { recursive: true, force: true })
}
