// Waiting for a condition that another process or connection makes true (a Redis
// invalidation delivered by pub/sub, a tier's retry): polls with a deadline and fails
// with the last value, instead of sleeping a guessed time.
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = await probe()
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    last = await probe()
  }
  return last
}
