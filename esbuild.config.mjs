// Builds the whole worker into one CommonJS file, dist/runner.js, that runs with plain
// `node dist/runner.js` in a folder with no node_modules.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { Buffer } from 'node:buffer';
import path from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

/**
 * zod re-exports every translation of its error messages (`zod/v4/locales/index`, about 260 KB
 * minified) though only English is ever used (zod configures it itself). Resolve that index, when
 * zod imports it, to a module holding English alone.
 */
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.c?js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      const english = path.join(args.resolveDir, '../locales/en' + path.extname(args.path));
      return { path: args.path, namespace: 'zod-english', pluginData: english };
    });
    pluginBuild.onLoad({ filter: /.*/, namespace: 'zod-english' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.pluginData)};`,
      resolveDir: path.dirname(args.pluginData),
      loader: 'js',
    }));
  },
};

/**
 * The AWS SDK (about 490 KB minified) is built on its own and carried in the bundle compressed
 * (Brotli, base64: about a quarter of the size), then decompressed and compiled on the first S3
 * call: V8 pre-parses every function of a script at start, about 20 ms for this much code, which a
 * worker that never touches S3 should not pay, and the bundle stays within its size budget.
 * lib/storage/s3-client.ts imports ./s3-sdk.js dynamically; the bundle resolves that import to
 * this deferred module.
 */
async function deferredS3Sdk() {
  const built = await build({
    entryPoints: ['lib/storage/s3-sdk.ts'],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    write: false,
    legalComments: 'inline',
    // The ES module builds, so that the commands lib/storage/s3-sdk.ts does not import are left out.
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  // Code compiled by vm has no module loader for import(): the SDK's lazy import("node:…") of
  // built-ins becomes require(), and any other dynamic import fails the build.
  const code = built.outputFiles[0].text.replace(/\bimport\((["'])(node:[\w/]+)\1\)/g, 'Promise.resolve().then(() => require("$2"))');
  if (/[^.\w$]import\s*\(/.test(code)) throw new Error('the AWS SDK build still holds a dynamic import(), which vm cannot run');
  const legal = [...new Set(code.match(/\/\*![\s\S]*?\*\/|\/\/![^\n]*/g) ?? [])].join('\n');
  const wrapped = `(function (module, exports, require) {${code}\n})`;
  const packed = brotliCompressSync(Buffer.from(wrapped), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).toString('base64');
  return {
    name: 'deferred-s3-sdk',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^\.\/s3-sdk\.js$/ }, (args) => ({ path: args.path, namespace: 'deferred-s3-sdk' }));
      pluginBuild.onLoad({ filter: /.*/, namespace: 'deferred-s3-sdk' }, () => ({
        contents: `${legal}
const sdk = { exports: {} };
const source = require('node:zlib').brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString('utf8');
require('node:vm').runInThisContext(source, { filename: 'aws-sdk-s3.js' })(sdk, sdk.exports, require);
module.exports = sdk.exports;`,
        loader: 'js',
      }));
    },
  };
}

await build({
  entryPoints: ['lib/main.ts'],
  outfile: 'dist/runner.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  // CJS, not ESM: bundled CommonJS dependencies call require() on Node built-ins, which an
  // ESM bundle cannot do without a createRequire banner.
  format: 'cjs',
  minify: true,
  sourcemap: 'linked',
  // Keep the licence comments of bundled code (littlehorse-client is AGPL-3.0-only).
  legalComments: 'eof',
  // grpc-js loads two .proto files from disk only for admin/metrics features we never use;
  // ws requires these optional native speed-ups inside try/catch.
  external: ['bufferutil', 'utf-8-validate', '@grpc/proto-loader'],
  logLevel: 'warning',
  plugins: [englishOnlyZod, await deferredS3Sdk()],
});

// The repository's package.json says "type": "module"; this keeps dist/runner.js CommonJS
// when run from inside the repository too. A folder holding only runner.js needs nothing.
await mkdir('dist', { recursive: true });
await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
