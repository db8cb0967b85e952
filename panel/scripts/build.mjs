// build bundles src/ into dist/: app.js (minified, MQTT.js included),
// app.css, index.html and icon.svg. dist/ is committed so that `go build`
// works without npm.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

await mkdir(dist, { recursive: true });
for (const f of await readdir(dist)) await rm(join(dist, f), { recursive: true });

await build({
  entryPoints: [join(src, 'main.js')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2022'],
  legalComments: 'external',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(src, 'boot.js')],
  outfile: join(dist, 'boot.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  logLevel: 'warning',
});
await build({
  entryPoints: [join(src, 'app.css')],
  outfile: join(dist, 'app.css'),
  bundle: true,
  minify: true,
  target: ['chrome100', 'safari15', 'firefox100'],
  logLevel: 'warning',
});
for (const f of ['index.html', 'icon.svg']) await copyFile(join(src, f), join(dist, f));
