// A minimal require hook so plain `node -r ./bench/baselines/register.js file.ts` runs the
// baselines' TypeScript (and Prisma's generated client, which is TypeScript too) without a
// build step: each .ts file is transpiled to CommonJS with typescript's transpileModule (no type
// checking: `tsc --noEmit -p .` does that). Does nothing if a .ts hook is already registered.
'use strict'
const fs = require('node:fs')
const ts = require('typescript')

if (!require.extensions['.ts']) {
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    resolveJsonModule: true,
    inlineSourceMap: true,
  }
  require.extensions['.ts'] = function compileTs(module, filename) {
    const source = fs.readFileSync(filename, 'utf8')
    const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename })
    module._compile(outputText, filename)
  }
}
