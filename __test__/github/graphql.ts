// GitHub's GraphQL contract, from its official schema (@octokit/graphql-schema's
// introspection JSON): every query is parsed and validated as GitHub would, then executed with
// graphql-js against the scripted world. Answers follow GitHub's shape: HTTP 200 with `errors`
// for a query GitHub refuses, `type: 'NOT_FOUND'` for an unknown repository, null for an
// unknown object id.

import * as fs from 'node:fs'
import * as path from 'node:path'
import { buildClientSchema, execute, GraphQLError, GraphQLSchema, parse, validate, type DocumentNode } from 'graphql'
import type { World, WorldRepository } from './world'

let schema: GraphQLSchema | null = null

/** GitHub's schema, built once per test file. */
export function githubGraphqlSchema(): GraphQLSchema {
  if (!schema) {
    const file = path.join(__dirname, '..', '..', 'node_modules', '@octokit', 'graphql-schema', 'schema.json')
    const json = JSON.parse(fs.readFileSync(file, 'utf8'))
    schema = buildClientSchema(json.data ?? json)
  }
  return schema
}

/** A GraphQL error as GitHub sends it (`type` beside `message`). */
class TypedError extends Error {
  constructor(readonly type: string, message: string) {
    super(message)
  }
}

function commitNode(repo: WorldRepository, sha: string) {
  const c = repo.commits.get(sha)
  if (!c) return null
  return {
    __typename: 'Commit',
    id: `C_${sha.slice(0, 12)}`,
    oid: c.sha,
    abbreviatedOid: c.sha.slice(0, 7),
    additions: c.additions,
    deletions: c.deletions,
    changedFilesIfAvailable: c.changedFiles,
    changedFiles: c.changedFiles ?? 0,
    message: c.message,
    messageHeadline: c.message.split('\n')[0],
    committedDate: c.committer.date,
    authoredDate: c.author.date,
    url: `https://github.test/${repo.owner}/${repo.name}/commit/${c.sha}`,
  }
}

function repositoryNode(world: World, owner: string, name: string) {
  const repo = world.repository(owner, name)
  if (!repo) throw new TypedError('NOT_FOUND', `Could not resolve to a Repository with the name '${owner}/${name}'.`)
  return {
    __typename: 'Repository',
    id: `R_${repo.id}`,
    databaseId: repo.id,
    name: repo.name,
    nameWithOwner: `${repo.owner}/${repo.name}`,
    isPrivate: repo.private,
    object: ({ oid, expression }: { oid?: string; expression?: string }) => {
      const ref = oid ?? expression ?? ''
      const sha = repo.branches.get(ref) ?? ref
      return commitNode(repo, sha)
    },
  }
}

/** What /graphql answers: `{ data?, errors? }` (always HTTP 200, as GitHub). */
export async function runGraphql(
  world: World,
  body: { query?: unknown; variables?: unknown; operationName?: unknown },
): Promise<{ result: { data?: unknown; errors?: unknown[] }; valid: boolean }> {
  if (typeof body?.query !== 'string') {
    return { result: { errors: [{ message: 'A query attribute must be specified and must be a string.' }] }, valid: false }
  }
  let document: DocumentNode
  try {
    document = parse(body.query)
  } catch (err) {
    return { result: { errors: [{ message: `Parse error: ${(err as Error).message}` }] }, valid: false }
  }
  const problems = validate(githubGraphqlSchema(), document)
  if (problems.length > 0) {
    return { result: { errors: problems.map((p) => ({ message: p.message, locations: p.locations })) }, valid: false }
  }
  const rootValue = {
    repository: ({ owner, name }: { owner: string; name: string }) => repositoryNode(world, owner, name),
    rateLimit: () => ({ __typename: 'RateLimit', cost: 1, limit: 5000, remaining: 4999, used: 1, nodeCount: 1, resetAt: new Date(Date.now() + 3600_000).toISOString() }),
  }
  const out = await execute({
    schema: githubGraphqlSchema(),
    document,
    rootValue,
    variableValues: (body.variables as Record<string, unknown>) ?? undefined,
    operationName: typeof body.operationName === 'string' ? body.operationName : undefined,
  })
  const errors = out.errors?.map((e: GraphQLError) => {
    const original = e.originalError as TypedError | undefined
    return { type: original?.type, path: e.path, locations: e.locations, message: e.message }
  })
  return { result: errors ? { data: out.data ?? null, errors } : { data: out.data }, valid: true }
}
