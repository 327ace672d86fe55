'use strict'
// Require hook for the bench: `node -r ./bench/register.js bench/run.ts` runs the TypeScript
// harness as is. Each `.ts` file is compiled on require with typescript's own
// transpileModule (already a dev dependency) to CommonJS, type-stripped only: `npx tsc
// --noEmit -p .` is what checks the types. Why not ts-node, tsx or esbuild-register: none is
// installed, and a twenty-line hook on the compiler we already ship adds no dependency.
// The generated Prisma client (generated/prisma/*.ts) loads through the same hook.
const fs = require('node:fs')
const ts = require('typescript')

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  resolveJsonModule: true,
  inlineSourceMap: true,
}

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8')
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename })
  module._compile(outputText, filename)
}

// Stack traces point at the .ts lines (the inline source maps above).
process.setSourceMapsEnabled(true)
