// Advisory lock classes that serialise the writers of one pull request or issue (the first key
// of PostgreSQL's two-key advisory lock; the second is hashint8 of the entity's GitHub id). They
// are the addon's own classes, so the baselines and the addon can share one database. Needed
// because those tables have two unique indexes (githubId and [repoId, number]): two inserts of
// one new entity could otherwise each enter one index and wait for each other.
export const LOCK_CLASS = { pullRequest: 0x64707201, issue: 0x64707202 } as const
