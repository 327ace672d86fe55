'use strict'
// Where the API calls for a registered repository go. Repositories follow GitHub
// (docs/repositories.md): a renamed or transferred repository keeps its row (matched on the
// GitHub id) under its new name, so calls use the row's current fullName, not the name a job
// was queued with; a deleted repository, or one GitHub no longer gives us (removed from the
// App's installation, uninstalled, suspended), answers 404 or 403, so it is not asked for; and
// with a GitHub App, the installation id stored on the row is the one whose token the calls
// use (after a transfer, the owner's installation may not be the repository's).

/** Why a repository must not be asked for now, or null. */
function skipReason(row) {
  if (row.deletedAt) return `deleted on GitHub (${new Date(row.deletedAt).toISOString()})`
  if (row.trackingStoppedAt) return `no longer tracked (${new Date(row.trackingStoppedAt).toISOString()}): removed from the installation or uninstalled`
  if (row.suspendedAt) return 'its installation is suspended'
  return null
}

/** The octokit for a repository's calls: its installation's when stored and the client is an App's, else by owner. */
function octokitFor(client, row) {
  const [owner, repo] = String(row.fullName).split('/')
  if (client.mode === 'app' && row.installationId != null) return client.forInstallation(Number(row.installationId))
  return client.forOwner(owner, repo)
}

/**
 * The octokit for a job of a repository known by id (commitStats, completePush): with an App
 * client, the installation stored on the repository's row (`processor.repositoryInstallation`),
 * as backfill does; by owner (`forOwner(...ownerArgs)`) when none is stored or the client is a
 * token's.
 */
async function octokitForRepoId(client, processor, repoId, ...ownerArgs) {
  if (client.mode === 'app') {
    const installationId = await processor.repositoryInstallation(repoId)
    if (installationId != null) return client.forInstallation(Number(installationId))
  }
  return client.forOwner(...ownerArgs)
}

module.exports = { skipReason, octokitFor, octokitForRepoId }
