// A counting TCP proxy in front of PostgreSQL, to measure round trips per event honestly
// for every implementation alike (the shared server has no pg_stat_statements loaded, and
// its logging cannot be switched on per database). It reads the wire protocol without
// changing it:
//   - server → client ReadyForQuery ('Z') messages: one per simple Query or Sync, i.e. one
//     per time the client waits for the server: the round trips (a client that pipelines
//     several Syncs before reading would be over-counted; none of the three does);
//   - client → server simple Query ('Q') and Execute ('E') messages: statements run;
//   - Parse ('P') messages: statements prepared (a client that caches prepared statements
//     sends fewer of them than it runs);
//   - Syncs with nothing before them since the last one: pings (sqlx checks a pooled
//     connection that way before handing it out), a round trip without a statement;
//   - bytes each way;
//   - the time of each round trip (first client message after a ReadyForQuery until the
//     next ReadyForQuery) by kind: BEGIN, COMMIT/ROLLBACK, ping, or a statement. Seen from
//     the proxy, so it includes the loopback hop to the server but not the client's.
// It answers SSL and GSSAPI encryption requests itself with 'N' (plaintext), since it
// could not read an encrypted stream; the server is on the loopback interface.
import net from 'node:net'

/** What a round trip was for. */
export type RoundTripKind = 'begin' | 'commit' | 'statement' | 'ping'

export interface WireCounts {
  roundTrips: number
  /** Microseconds spent waiting on the server, by kind of round trip. */
  micros: Record<RoundTripKind, number>
  statements: number
  prepares: number
  pings: number
  bytesToServer: number
  bytesFromServer: number
}

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

/** Splits a byte stream into protocol messages and reports each message's type byte. */
class MessageReader {
  private buffer: Buffer = Buffer.alloc(0)
  /** The client's first messages have no type byte (startup, SSL/GSS requests). */
  private untyped: boolean
  constructor(untyped: boolean, private readonly onMessage: (type: string, body: Buffer) => void) {
    this.untyped = untyped
  }
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      if (this.untyped) {
        if (this.buffer.length < 8) return
        const length = this.buffer.readInt32BE(0)
        if (this.buffer.length < length) return
        const code = this.buffer.readInt32BE(4)
        this.onMessage('startup', this.buffer.subarray(0, length))
        this.buffer = this.buffer.subarray(length)
        // After an encryption request the client sends its startup message, untyped too.
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.untyped = false
        continue
      }
      if (this.buffer.length < 5) return
      const length = this.buffer.readInt32BE(1) + 1
      if (this.buffer.length < length) return
      this.onMessage(String.fromCharCode(this.buffer[0]), this.buffer.subarray(0, length))
      this.buffer = this.buffer.subarray(length)
    }
  }
}

export class CountingProxy {
  readonly counts: WireCounts = {
    roundTrips: 0,
    micros: { begin: 0, commit: 0, statement: 0, ping: 0 },
    statements: 0,
    prepares: 0,
    pings: 0,
    bytesToServer: 0,
    bytesFromServer: 0,
  }
  private readonly sockets = new Set<net.Socket>()

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Sees every typed client message (type byte and the whole message), e.g. to capture statements. */
  onClientMessage: ((type: string, message: Buffer) => void) | null = null

  /** Listens on a free loopback port and forwards to `target` (host:port of PostgreSQL). */
  static async start(target: { host: string; port: number }): Promise<CountingProxy> {
    let proxy: CountingProxy
    const server = net.createServer((client) => proxy.connection(client, target))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = new CountingProxy(server, (server.address() as net.AddressInfo).port)
    return proxy
  }

  /** The same database URL, through the proxy. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.toString()
  }

  snapshot(): WireCounts {
    return { ...this.counts, micros: { ...this.counts.micros } }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private connection(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target.port, target.host)
    // Without TCP_NODELAY, Nagle's algorithm holds a small message until the previous
    // one is acknowledged, and delayed ACKs turn that into ~40 ms stalls per round trip.
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    this.sockets.add(client).add(upstream)
    let sinceSync = 0
    // The round trip in progress: when its first message arrived, and what it is for.
    let open: { started: bigint; kind: RoundTripKind | null } | null = null
    const classify = (kind: RoundTripKind) => {
      if (open && open.kind === null) open.kind = kind
    }
    const fromClient = new MessageReader(true, (type, body) => {
      if (type !== 'startup' && open === null) open = { started: process.hrtime.bigint(), kind: null }
      if (type === 'startup') {
        const code = body.readInt32BE(4)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          client.write('N')
          return
        }
      } else if (type === 'S') {
        if (sinceSync === 0) {
          this.counts.pings++
          classify('ping')
        }
        sinceSync = 0
      } else if (type === 'Q') {
        // A simple query is its own sync point.
        this.counts.statements++
        const text = body.toString('latin1', 5, 14).toUpperCase()
        classify(text.startsWith('BEGIN') ? 'begin' : text.startsWith('COMMIT') || text.startsWith('ROLLBACK') ? 'commit' : 'statement')
        sinceSync = 0
      } else {
        sinceSync++
        if (type === 'E') this.counts.statements++
        if (type === 'P') this.counts.prepares++
        if (type === 'P' || type === 'B' || type === 'E') classify('statement')
      }
      if (type !== 'startup') this.onClientMessage?.(type, body)
      this.counts.bytesToServer += body.length
      upstream.write(body)
    })
    const fromServer = new MessageReader(false, (type) => {
      if (type !== 'Z') return
      this.counts.roundTrips++
      if (open) {
        this.counts.micros[open.kind ?? 'statement'] += Number(process.hrtime.bigint() - open.started) / 1000
        open = null
      }
    })
    client.on('data', (chunk) => fromClient.push(chunk))
    upstream.on('data', (chunk) => {
      this.counts.bytesFromServer += chunk.length
      fromServer.push(chunk)
      client.write(chunk)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  }
}
