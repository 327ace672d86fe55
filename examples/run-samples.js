#!/usr/bin/env node
'use strict'
// The README's run command until the Bull worker lands: migrates the local database,
// registers the sample repository and a user, processes the bundled sample deliveries
// with the built addon, and prints what each one wrote.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/devmetrics npm start

const { readFileSync, readdirSync } = require('node:fs')
const { join } = require('node:path')
const { randomUUID } = require('node:crypto')
const { Client } = require('pg')
const { WebhookProcessor, migrate } = require('../lib')

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/devmetrics'
const FIXTURES = join(__dirname, '..', '__test__', 'fixtures')
const SAMPLE_REPO_GITHUB_ID = 186853002

/** Creates the database if it does not exist (the server's maintenance DB must be reachable). */
async function ensureDatabase(url) {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.slice(1))
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new Client({ connectionString: admin.toString() })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
  } finally {
    await client.end()
  }
}

/** The sample repository and one linked user, as the backend would have them. */
async function seed(url) {
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(
      `INSERT INTO repositories (id, "githubId", "fullName") VALUES ($1, $2, 'Codertocat/Hello-World')
       ON CONFLICT ("githubId") DO NOTHING`,
      [randomUUID(), SAMPLE_REPO_GITHUB_ID],
    )
    await client.query(
      `INSERT INTO users (id, email, "githubLogin") VALUES ($1, 'mona@example.com', 'octocat')
       ON CONFLICT (email) DO NOTHING`,
      [randomUUID()],
    )
  } finally {
    await client.end()
  }
}

function samples() {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const body = readFileSync(join(FIXTURES, file), 'utf8')
      // Fixture names start with the event: push-event.json, pull-request-opened.json, issue-closed.json…
      const event = file.startsWith('push')
        ? 'push'
        : file.startsWith('pull-request-review')
          ? 'pull_request_review'
          : file.startsWith('pull-request')
            ? 'pull_request'
            : file.startsWith('issue')
              ? 'issues'
              : file.replace(/\.json$/, '')
      return { file, event, body }
    })
}

async function main() {
  await ensureDatabase(DATABASE_URL)
  await migrate(DATABASE_URL)
  await seed(DATABASE_URL)
  const processor = await WebhookProcessor.connect({ databaseUrl: DATABASE_URL, maxConnections: 2 })
  try {
    for (const { file, event, body } of samples()) {
      const deliveryId = `sample-${file}`
      try {
        const r = await processor.process({ deliveryId, event, payload: body })
        console.log(`\n${file} (${event}${r.action ? `.${r.action}` : ''})`)
        console.table({
          status: r.status,
          commits: r.records.commits,
          pullRequests: r.records.pullRequests,
          issues: r.records.issues,
          reviews: r.records.reviews,
          metricJobs: r.metricJobs.length,
          unmappedUsers: r.unmappedUsers.join(', ') || '-',
          totalMicros: r.timings.totalMicros,
        })
      } catch (err) {
        console.log(`\n${file}: ${err.code} ${err.message}`)
      }
    }
    console.log('\nprocessor stats:', JSON.stringify(processor.stats(), null, 2))
  } finally {
    await processor.close()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
