#!/usr/bin/env node
'use strict'
// Runs a TypeScript entry of examples/backend (main.ts, cli/replay.ts…) in a child process of
// a test, without the tarball install or a build: .ts files are transpiled on load with the
// repository's typescript, and @devmetrics/webhook-processor resolves to this repository's
// lib/ (the code the tarball ships), as jest's moduleNameMapper does in-process.
//
//   node __test__/support/run-backend.js examples/backend/src/main.ts --role=worker

const fs = require('node:fs')
const Module = require('node:module')
const path = require('node:path')
const ts = require('typescript')

const root = path.resolve(__dirname, '..', '..')
const PACKAGE = '@devmetrics/webhook-processor'

const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, request === PACKAGE ? path.join(root, 'lib', 'index.js') : request, ...rest)
}

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  })
  module._compile(outputText, filename)
}

const [entry, ...args] = process.argv.slice(2)
process.argv = [process.argv[0], path.resolve(entry), ...args]
require(path.resolve(entry))
