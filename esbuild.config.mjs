// Builds the whole worker into one CommonJS file, dist/runner.js, that runs with plain
// `node dist/runner.js` in a folder with no node_modules.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
  plugins: [englishOnlyZod],
  // The ES module builds where packages have them (the AWS SDK does), so that unused commands are
  // left out: lib/storage/s3-sdk.ts imports only what it uses.
  mainFields: ['module', 'main'],
});

// The repository's package.json says "type": "module"; this keeps dist/runner.js CommonJS
// when run from inside the repository too. A folder holding only runner.js needs nothing.
await mkdir('dist', { recursive: true });
await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
