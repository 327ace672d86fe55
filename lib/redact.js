'use strict'
// Credentials out of log text: every URL's user information (`scheme://user:password@host`)
// becomes `***`. Database and Redis URLs carry passwords, and driver errors quote them.

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]*@/gi

/** The text with the user information of every URL in it replaced by `***`. */
function redactCredentials(text) {
  return String(text).replace(URL_USERINFO, '$1***@')
}

module.exports = { redactCredentials }
