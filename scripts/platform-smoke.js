#!/usr/bin/env node
'use strict'
// What scripts/run-platforms.sh runs under a foreign Node (arm64 under qemu-user, a musl Node,
// a Windows node.exe under Wine) to show that a cross-built binary works there: it loads the
// binary named by NAPI_RS_NATIVE_LIBRARY_PATH through the package's own lib/ and index.js and
// does one step, printing one JSON line. It needs nothing but Node's built-ins and the addon,
// so no dependency has to be installed for the foreign Node; the shell script seeds and reads
// PostgreSQL with psql on the host.
//
//   node scripts/platform-smoke.js load                    → exports, process.platform/arch, inspectWebhook of the push fixture
//   node scripts/platform-smoke.js migrate <databaseUrl>   → applies the migrations
//   node scripts/platform-smoke.js push <databaseUrl>      → processes the push fixture (repository seeded by the caller)

const { readFileSync } = require('node:fs')
const { join } = require('node:path')

const fixture = join(__dirname, '..', '__test__', 'fixtures', 'push-event.json')

async function main() {
  const [mode, databaseUrl] = process.argv.slice(2)
  const webhooks = require('../lib')
  const binary = Object.keys(require.cache).find((f) => f.endsWith('.node'))
  const payload = readFileSync(fixture, 'utf8')
  const out = { mode, node: process.version, platform: process.platform, arch: process.arch, binary }
  if (mode === 'load') {
    out.exports = Object.keys(webhooks).length
    out.inspected = webhooks.inspectWebhook('push', payload)
  } else if (mode === 'migrate') {
    await webhooks.migrate(databaseUrl)
    out.migrated = true
  } else if (mode === 'push') {
    const processor = await webhooks.WebhookProcessor.connect({ databaseUrl })
    try {
      out.result = await processor.process({ deliveryId: `platform-smoke-${Date.now()}`, event: 'push', payload })
    } finally {
      await processor.close()
    }
  } else {
    throw new Error(`unknown mode ${mode}: load | migrate <url> | push <url>`)
  }
  console.log(JSON.stringify(out))
}

main().catch((error) => {
  console.error(JSON.stringify({ error: String(error && error.message), code: error && error.code }))
  process.exit(1)
})
