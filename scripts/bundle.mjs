/**
 * Bundles Nimbus (src/cli.ts and everything it imports) into one file, dist/nimbus.mjs,
 * which `npm start` and the `nimbus` command run. One file starts several times faster
 * than the ~400 modules tsc's output and node_modules are: Node 20 resolves, reads and
 * compiles each module on its own. esbuild only strips types (`npm run build` type-checks).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = `${ROOT}dist/nimbus.mjs`;

export async function bundle() {
  await build({
    entryPoints: [`${ROOT}src/cli.ts`],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // A native addon, and pg's optional native binding (never installed): loaded at run time.
    external: ['better-sqlite3', 'pg-native'],
    // CommonJS packages inside an ES module bundle still call require().
    banner: { js: "import { createRequire as __nimbusRequire } from 'node:module'; const require = __nimbusRequire(import.meta.url);" },
    minifyWhitespace: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle();
