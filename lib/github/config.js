'use strict'
// GitHub settings from the environment, checked once at start. The API features are optional:
// nothing configured means null (features off, the caller says so once), never an error. A
// malformed setting is CONFIG_ERROR naming the variable, never quoting a token or a key.

const fs = require('node:fs')
const crypto = require('node:crypto')
const { WebhookProcessingError } = require('../errors')
const { LOGIN_SOURCE, REPO_NAME_SOURCE } = require('./names')

const configError = (message) => new WebhookProcessingError('CONFIG_ERROR', message)

/**
 * PEM text as it arrives from an environment variable or a file: `\n` escapes become newlines,
 * surrounding quotes and blanks go. Checked to be an RSA private key (PKCS#1 or PKCS#8);
 * `source` names the setting in the error, the key itself never appears.
 */
function normalizePrivateKey(text, source = 'privateKey') {
  if (typeof text !== 'string' || text.trim() === '') throw configError(`${source} is empty`)
  let pem = text.trim()
  if ((pem.startsWith('"') && pem.endsWith('"')) || (pem.startsWith("'") && pem.endsWith("'"))) pem = pem.slice(1, -1)
  pem = pem.replace(/\\r\\n|\\n/g, '\n').replace(/\r\n/g, '\n').trim()
  // Secret stores also flatten newlines to spaces: rebuild the armour from its parts.
  const armour = /^(-----BEGIN [A-Z ]+-----)\s*([A-Za-z0-9+/=\s]+?)\s*(-----END [A-Z ]+-----)$/.exec(pem)
  if (armour) {
    const body = armour[2].replace(/\s+/g, '')
    pem = [armour[1], ...(body.match(/.{1,64}/g) || []), armour[3]].join('\n')
  }
  let key
  try {
    key = crypto.createPrivateKey({ key: pem, format: 'pem' })
  } catch {
    throw configError(`${source} is not a PEM private key (PKCS#1 "BEGIN RSA PRIVATE KEY" or PKCS#8 "BEGIN PRIVATE KEY")`)
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw configError(`${source} is a ${key.asymmetricKeyType} key; a GitHub App key is RSA`)
  }
  return `${pem}\n`
}

/** Reads a private key file; the error names the path, not the content. */
function readPrivateKeyFile(path, source = 'privateKeyPath') {
  let text
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (err) {
    throw configError(`${source}: cannot read ${path} (${err.code || 'error'})`)
  }
  return normalizePrivateKey(text, `${source} (${path})`)
}

const HOOK_REPO = new RegExp(`^(${LOGIN_SOURCE})/(${REPO_NAME_SOURCE})#([1-9][0-9]{0,15})$`)
const HOOK_ORG = new RegExp(`^(${LOGIN_SOURCE})#([1-9][0-9]{0,15})$`)

/**
 * `GITHUB_HOOKS` (`owner/repo#id`, `org#id`, comma-separated) as
 * `[{ kind: 'repo', owner, repo, hookId } | { kind: 'org', org, hookId }]`.
 */
function parseHooks(text, source = 'GITHUB_HOOKS') {
  if (text === undefined || text === null || String(text).trim() === '') return []
  return String(text)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      let m = HOOK_REPO.exec(entry)
      if (m) return { kind: 'repo', owner: m[1], repo: m[2], hookId: Number(m[3]) }
      m = HOOK_ORG.exec(entry)
      if (m) return { kind: 'org', org: m[1], hookId: Number(m[2]) }
      throw configError(`${source}: "${entry.slice(0, 80)}" is neither owner/repo#id nor org#id`)
    })
}

const present = (v) => typeof v === 'string' && v.trim() !== ''

/**
 * GitHubClientOptions from the environment (`GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` or
 * `GITHUB_APP_PRIVATE_KEY_PATH`, `GITHUB_TOKEN`, `GITHUB_API_URL`, `GITHUB_HOOKS`), or null when
 * neither an App nor a token is configured. Throws CONFIG_ERROR for a half or contradictory
 * configuration, an unreadable key file or a key that is not an RSA PEM key.
 */
function githubOptionsFromEnv(env = process.env) {
  const appId = present(env.GITHUB_APP_ID) ? env.GITHUB_APP_ID.trim() : undefined
  const keyText = present(env.GITHUB_APP_PRIVATE_KEY) ? env.GITHUB_APP_PRIVATE_KEY : undefined
  const keyPath = present(env.GITHUB_APP_PRIVATE_KEY_PATH) ? env.GITHUB_APP_PRIVATE_KEY_PATH.trim() : undefined
  const token = present(env.GITHUB_TOKEN) ? env.GITHUB_TOKEN.trim() : undefined
  const baseUrl = present(env.GITHUB_API_URL) ? env.GITHUB_API_URL.trim() : undefined
  const hooks = parseHooks(env.GITHUB_HOOKS)

  if (!appId && !keyText && !keyPath && !token) {
    if (baseUrl || hooks.length > 0) {
      throw configError('GITHUB_API_URL or GITHUB_HOOKS is set but neither GITHUB_APP_ID nor GITHUB_TOKEN')
    }
    return null
  }
  if (keyText && keyPath) throw configError('set GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH, not both')
  if ((keyText || keyPath) && !appId) throw configError('GITHUB_APP_PRIVATE_KEY is set but GITHUB_APP_ID is not')
  if (appId && !(keyText || keyPath)) throw configError('GITHUB_APP_ID is set but neither GITHUB_APP_PRIVATE_KEY nor GITHUB_APP_PRIVATE_KEY_PATH')
  if (appId && token) throw configError('set either GITHUB_APP_ID (a GitHub App) or GITHUB_TOKEN, not both')

  const options = {}
  if (baseUrl) options.baseUrl = baseUrl
  if (hooks.length > 0) options.hooks = hooks
  if (token) return { ...options, token }
  const privateKey = keyText
    ? normalizePrivateKey(keyText, 'GITHUB_APP_PRIVATE_KEY')
    : readPrivateKeyFile(keyPath, 'GITHUB_APP_PRIVATE_KEY_PATH')
  return { ...options, appId, privateKey }
}

module.exports = { githubOptionsFromEnv, normalizePrivateKey, readPrivateKeyFile, parseHooks }
