// GitHub's GraphQL contract, from its official schema (@octokit/graphql-schema's
// introspection JSON): every query is parsed and validated as GitHub would (the schema, and
// GitHub's node limit: `first` or `last` within 1–100 on every connection), then executed
// with graphql-js against the scripted world. Answers follow GitHub's shape: HTTP 200 with
// `errors` for a query GitHub refuses, `type: 'NOT_FOUND'` for an unknown repository, null for
// an unknown object id. A commit's `history` is its ancestors in the world's commit graph
// (itself included, merges followed, newest first as `git log`), so `totalCount` is what
// `git rev-list --count` would say.

import * as fs from 'node:fs'
import * as path from 'node:path'
import { buildClientSchema, execute, getNamedType, GraphQLError, GraphQLSchema, Kind, parse, TypeInfo, validate, visit, visitWithTypeInfo, type DocumentNode } from 'graphql'
import type { World, WorldCommit, WorldRepository } from './world'

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

/** GitHub's node limit (docs: "Rate limits and node limits for the GraphQL API"): every connection needs `first` or `last`, each within 1–100. */
function paginationProblems(document: DocumentNode, variables: Record<string, unknown> | undefined): { type: string; message: string }[] {
  const typeInfo = new TypeInfo(githubGraphqlSchema())
  const problems: { type: string; message: string }[] = []
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const def = typeInfo.getFieldDef()
        if (!def || !getNamedType(def.type).name.endsWith('Connection')) return
        if (!def.args.some((a) => a.name === 'first' || a.name === 'last')) return
        const value = (name: string): unknown => {
          const arg = node.arguments?.find((a) => a.name.value === name)
          if (!arg) return undefined
          if (arg.value.kind === Kind.INT) return Number(arg.value.value)
          if (arg.value.kind === Kind.VARIABLE) return variables?.[arg.value.name.value] ?? undefined
          return arg.value.kind === Kind.NULL ? undefined : NaN
        }
        const bounds = { first: value('first'), last: value('last') }
        if (bounds.first === undefined && bounds.last === undefined) {
          problems.push({ type: 'MISSING_PAGINATION_BOUNDARIES', message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${node.name.value}\` connection.` })
        }
        for (const [k, v] of Object.entries(bounds)) {
          if (v === undefined || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 100)) continue
          problems.push({ type: 'EXCESSIVE_PAGINATION', message: `Requesting ${String(v)} records on the \`${node.name.value}\` connection exceeds the \`${k}\` limit of 100 records.` })
        }
      },
    }),
  )
  return problems
}

/** `Commit.history`: the commit's ancestors in the world (itself included), newest first. Only `first`/`last` are scripted. */
function historyOf(world: World, repo: WorldRepository, sha: string) {
  return (args: { first?: number; last?: number; after?: string; before?: string; path?: string; author?: unknown; since?: string; until?: string }) => {
    const unscripted = (['after', 'before', 'path', 'author', 'since', 'until'] as const).filter((k) => args[k] !== undefined && args[k] !== null)
    if (unscripted.length > 0) throw new Error(`the contract test server does not script history(${unscripted.join(', ')})`)
    const all = [...world.ancestors(repo, sha)]
      .map((s) => repo.commits.get(s) as WorldCommit)
      .sort((a, b) => (a.committer.date < b.committer.date ? 1 : a.committer.date > b.committer.date ? -1 : 0))
    const start = args.first != null ? 0 : Math.max(0, all.length - (args.last as number))
    const slice = all.slice(start, args.first != null ? args.first : all.length)
    const cursor = (i: number) => Buffer.from(`${sha} ${i}`).toString('base64')
    return {
      totalCount: all.length,
      nodes: () => slice.map((c) => commitNode(world, repo, c.sha)),
      edges: () => slice.map((c, i) => ({ cursor: cursor(start + i), node: commitNode(world, repo, c.sha) })),
      pageInfo: {
        hasNextPage: start + slice.length < all.length,
        hasPreviousPage: start > 0,
        startCursor: slice.length > 0 ? cursor(start) : null,
        endCursor: slice.length > 0 ? cursor(start + slice.length - 1) : null,
      },
    }
  }
}

function commitNode(world: World, repo: WorldRepository, sha: string) {
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
    history: historyOf(world, repo, c.sha),
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
      return commitNode(world, repo, sha)
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
  const limits = paginationProblems(document, body.variables as Record<string, unknown> | undefined)
  if (limits.length > 0) return { result: { errors: limits }, valid: false }
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
