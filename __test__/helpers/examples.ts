// Real GitHub payloads from @octokit/webhooks-examples.
import examples from '@octokit/webhooks-examples/api.github.com/index.json'

export interface ExampleGroup {
  name: string
  actions: string[]
  examples: Record<string, unknown>[]
}

export const exampleGroups = examples as unknown as ExampleGroup[]

/** Every example of one event type, as [label, payload] pairs for test.each. */
export function examplesOf(event: string): [string, Record<string, unknown>][] {
  const group = exampleGroups.find((g) => g.name === event)
  if (!group) throw new Error(`no examples for ${event}`)
  return group.examples.map((payload, i) => [`${event} #${i} ${String(payload.action ?? payload.ref ?? '')}`, payload])
}
