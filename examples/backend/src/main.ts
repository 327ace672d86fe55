#!/usr/bin/env node
// The backend process: `node dist/main.js [--role=all|api|worker]`.
//   all    (default) the endpoint, the queue UI and the worker in one process
//   api    the endpoint, stats, metrics and the queue UI; no worker
//   worker the worker, with health, stats and /metrics on its own port (default 3001)
// Development defaults: migrates the database (creating it if missing) and registers the
// sample repository first. SIGTERM/SIGINT stop HTTP, finish active jobs, close the queues.
import { createBackend } from './app'
import { DEVELOPMENT_SECRET, loadConfig, redact } from './config'
import { migrateDatabase, seedSample } from './database'
import { jsonLogger } from './logger'
import { HelpRequested, parseArgs, UsageError } from './cli/args'

const USAGE = `usage: node dist/main.js [--role=all|api|worker]   (npm start; npm run worker is --role=worker)
  --role all     the endpoint, the queue UI and the worker in one process (default; or ROLE)
  --role api     the endpoint, stats, metrics and the queue UI; no worker
  --role worker  the worker, with health, stats and /metrics on its own port (default 3001)
  -h, --help     this text; starts nothing
  Configured by the environment: DATABASE_URL, REDIS_URL, GITHUB_WEBHOOK_SECRET, PORT… (README).`

async function main(argv: string[]): Promise<void> {
  const role = parseArgs(argv, { values: ['--role'], flags: [], positionals: false }, USAGE).values['--role']
  const config = loadConfig(process.env, role === undefined ? [] : [`--role=${role}`])
  const logger = jsonLogger(config.logLevel)
  if (config.migrate) {
    const { created } = await migrateDatabase(config.databaseUrl)
    logger.info('database migrated', { database: redact(config.databaseUrl), created })
  }
  if (config.seedSample) {
    logger.info('sample repository registered', await seedSample(config.databaseUrl))
  }
  if (config.role !== 'worker' && config.webhookSecrets.includes(DEVELOPMENT_SECRET)) {
    logger.warn('GITHUB_WEBHOOK_SECRET is not set: using the development secret', { secret: DEVELOPMENT_SECRET })
  }

  const backend = await createBackend(config, { logger })
  try {
    await backend.listen()
  } catch (err) {
    await backend.close() // the worker may have taken jobs already: finish them
    throw err
  }

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal: exiting without waiting', { signal })
      process.exit(1)
    }
    stopping = true
    logger.info('shutting down', { signal, timeoutMs: config.shutdownTimeoutMs })
    // Jobs still active at the deadline are not lost: their locks expire and another worker's
    // stalled-job check runs them again.
    setTimeout(() => {
      logger.error('shutdown timed out: exiting with jobs still active (they will be recovered as stalled)', {})
      process.exit(1)
    }, config.shutdownTimeoutMs).unref()
    backend.close().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error('shutdown failed', { error: err.message })
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main(process.argv.slice(2)).catch((err: Error & { code?: string }) => {
  if (err instanceof HelpRequested) {
    console.log(err.message)
    process.exit(0)
  }
  if (err instanceof UsageError) {
    console.error(err.message)
    process.exit(2)
  }
  jsonLogger('error').error('backend failed to start', { code: err.code, error: err.message })
  process.exit(1)
})
