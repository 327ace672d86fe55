// Advisory lock classes that serialise the writers of one entity (the first key of PostgreSQL's
// two-key advisory lock; the second is hashint8 of the entity's GitHub id). pullRequest, issue
// and deployment are the addon's own classes, so the baselines and the addon can share one
// database. Pull requests and issues need it because those tables have two unique indexes
// (githubId and [repoId, number]): two inserts of one new entity could otherwise each enter one
// index and wait for each other. Deployments need it so that the writers of one deployment's
// statuses serialise and each one's refresh of the derived fields sees the others' statuses.
// workflowRun is the Prisma baseline's own (the addon's and the pg baseline's single upsert needs
// none): Prisma's read-decide-write would otherwise lose a concurrent delivery's update.
export const LOCK_CLASS = { pullRequest: 0x64707201, issue: 0x64707202, deployment: 0x64707204, workflowRun: 0x647072f1 } as const
