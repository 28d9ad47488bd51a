// The relay's entry points as self-contained ES modules, each one file that
// needs no node_modules and no package.json at run time (the package version is
// written in): dist/lambda.js and dist/sync-lambda.js, what the Lambda functions
// ship, and dist/server.js, which Node imports in half the time of the compiled
// modules it replaces.
// `npm run build` runs it after tsc: `node scripts/bundle.mjs`, or
// `node scripts/bundle.mjs <lambda|server> <outfile>` for one bundle elsewhere.
import { readFileSync, rmSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const fromRoot = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const ENTRIES = ['lambda', 'server', 'sync-lambda'];

async function bundle(entry, outfile = fromRoot(`dist/${entry}.js`)) {
  const { version } = JSON.parse(readFileSync(fromRoot('package.json'), 'utf8'));
  await build({
    entryPoints: [fromRoot(`src/${entry}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    define: { __RELAY_VERSION__: JSON.stringify(version) },
    // Bundled CommonJS dependencies require() Node's own modules; an ES module has no require of its own.
    banner: { js: "import { createRequire as __relayRequire } from 'node:module'; const require = __relayRequire(import.meta.url);" },
    // Neither minified (it imports slower: V8 compiles more of it eagerly) nor source-mapped
    // (loading the map under --enable-source-maps costs a third more import time).
    legalComments: 'none',
    logLevel: 'warning',
  });
  // tsc's map of the module this bundle replaced would describe other code.
  rmSync(`${outfile}.map`, { force: true });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [entry, outfile] = process.argv.slice(2);
  if (entry === undefined) await Promise.all(ENTRIES.map((name) => bundle(name)));
  else if (ENTRIES.includes(entry) && outfile !== undefined) await bundle(entry, outfile);
  else throw new Error(`usage: node scripts/bundle.mjs [${ENTRIES.join('|')} <outfile>]`);
}
