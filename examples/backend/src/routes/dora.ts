// GET /api/dora?repo=owner/name|team=…&since=30d&until=…&environment=… (the five DORA metrics
// of the window and of each week in it, src/dora.ts) and GET /dora, the page that draws them
// (public/dora.html: static, inline JS and SVG, reading /api/dora and /api/dora/scopes).
import { join } from 'node:path'
import { Router } from 'express'
import type { Pool } from 'pg'
import { WebhookProcessingError, type WebhookProcessor } from '@devmetrics/webhook-processor'
import { DoraQuery, DoraQueryError, doraReport, resolveScope } from '../dora'

/** public/dora.html, from src/routes (ts) or dist/routes (built) alike. */
export const DORA_PAGE = join(__dirname, '..', '..', 'public', 'dora.html')

const QUERY_KEYS = ['repo', 'team', 'since', 'until', 'environment'] as const

export function doraRouter(options: { pool: Pool; processor: () => Promise<WebhookProcessor> }): Router {
  const router = Router()

  router.get('/api/dora', async (req, res, next) => {
    try {
      const query: DoraQuery = {}
      for (const [key, value] of Object.entries(req.query)) {
        if (!(QUERY_KEYS as readonly string[]).includes(key)) throw new DoraQueryError(`unknown parameter ${key}`)
        if (typeof value !== 'string') throw new DoraQueryError(`${key} must be given once`)
        query[key as (typeof QUERY_KEYS)[number]] = value
      }
      res.json(await doraReport(await options.processor(), options.pool, query))
    } catch (err) {
      if (err instanceof DoraQueryError) return void res.status(err.notFound ? 404 : 400).json({ error: err.message })
      if (err instanceof WebhookProcessingError && err.code === 'CONFIG_ERROR') return void res.status(400).json({ error: err.message, code: err.code })
      next(err)
    }
  })

  // What the page offers to choose from.
  router.get('/api/dora/scopes', async (_req, res, next) => {
    try {
      const { repositories } = await resolveScope(options.pool, {})
      const { rows: teams } = await options.pool.query('SELECT id, name FROM teams ORDER BY name, id')
      res.json({ repositories: repositories.map((r) => r.fullName), teams })
    } catch (err) {
      next(err)
    }
  })

  router.get('/dora', (_req, res) => res.sendFile(DORA_PAGE))
  return router
}
