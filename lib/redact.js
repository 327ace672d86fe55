'use strict'
// Credentials out of log text: every URL's user information (`scheme://user:password@host`)
// becomes `***`. Database and Redis URLs carry passwords, and driver errors quote them.
// GitHub credentials too: tokens by their documented prefixes (ghp_, gho_, ghu_, ghs_, ghr_,
// github_pat_), the value of `token …`/`Bearer …` authorization text, JWTs and PEM private keys.

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]*@/gi
const GITHUB_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{20,})\b/g
const AUTHORIZATION = /\b(token|bearer)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{20,}/gi
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g

/** The text with the user information of every URL, and every GitHub token, JWT or private key in it, replaced by `***`. */
function redactCredentials(text) {
  return String(text)
    .replace(URL_USERINFO, '$1***@')
    .replace(PEM_KEY, '***')
    .replace(AUTHORIZATION, '$1 ***')
    .replace(JWT, '***')
    .replace(GITHUB_TOKEN, '***')
}

module.exports = { redactCredentials }
