// A fresh database per implementation under test: created and migrated by the shared test
// helper (the addon's own migrate(), as the tests do), then seeded with the workload's
// teams, users, repositories and memberships. Dropped after the run.
import { createTestDatabase, TestDatabase } from '../__test__/helpers/db'
import { SeedData, seedDatabase } from './workload'

export interface BenchDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

/** Creates, migrates and seeds a database; the caller drops it. */
export async function freshDatabase(seed: SeedData): Promise<BenchDatabase> {
  const db: TestDatabase = await createTestDatabase()
  try {
    await seedDatabase(db.url, seed)
  } catch (err) {
    await db.drop()
    throw err
  }
  // The helper's pool is for tests that read rows; the bench reads through its own clients.
  return { name: db.name, url: db.url, drop: () => db.drop() }
}
