'use strict'
// What GitHub accepts as an account login and a repository name, in one place for the
// client's owner check, the backfill's and register's `owner/name` parsing and GITHUB_HOOKS.
// A login is alphanumerics and single hyphens, at most 39 characters; GitHub Enterprise Managed
// Users add `_<shortcode>` of their enterprise (`mona_acme`), so `_` is allowed once, after
// the handle. Repository names take letters, digits, `.`, `_` and `-`, up to 100 characters.

/** An account login (user or organization), with an optional Enterprise Managed Users `_shortcode`. */
const LOGIN_SOURCE = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:_[A-Za-z0-9]{1,39})?'
/** A repository's name (without its owner). */
const REPO_NAME_SOURCE = '[A-Za-z0-9._-]{1,100}'

const LOGIN = new RegExp(`^${LOGIN_SOURCE}$`)

/** True for a string GitHub could have as an account login. */
function isLogin(value) {
  return typeof value === 'string' && LOGIN.test(value)
}

module.exports = { LOGIN_SOURCE, REPO_NAME_SOURCE, isLogin }
