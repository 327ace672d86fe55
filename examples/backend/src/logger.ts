// A winston-compatible logger (info/warn/error/debug with a message and a metadata object)
// writing one JSON line per entry to stdout. DevMetrics passes its winston logger instead.
// Every line has the credentials of any URL in it redacted: driver errors quote URLs.
import { redactCredentials, WorkerLogger } from '@devmetrics/webhook-processor'

export interface Logger extends WorkerLogger {
  debug(message: string, meta?: Record<string, unknown>): unknown
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const

export function jsonLogger(level: keyof typeof LEVELS = 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const threshold = LEVELS[level]
  const at =
    (name: keyof typeof LEVELS) =>
    (message: string, meta: Record<string, unknown> = {}) => {
      if (LEVELS[name] < threshold) return
      write(`${redactCredentials(JSON.stringify({ level: name, time: new Date().toISOString(), message, ...meta }))}\n`)
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
