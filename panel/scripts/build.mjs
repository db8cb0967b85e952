// build bundles src/ into dist/ (or the directory given as its argument,
// as check-dist.mjs does): app.js (minified, MQTT.js and the icons of
// src/icons.txt included), app.css, index.html, the web app manifest and
// icon.svg. dist/ is committed so that `go build` works without npm.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import * as mdi from '@mdi/js';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');

await mkdir(dist, { recursive: true });
for (const f of await readdir(dist)) await rm(join(dist, f), { recursive: true });

// icons is the virtual module `mdi-icons`: {name: SVG path} for each name
// in src/icons.txt, taken from @mdi/js. Only these reach the bundle.
const icons = {
  name: 'mdi-icons',
  setup(b) {
    b.onResolve({ filter: /^mdi-icons$/ }, () => ({ path: 'mdi-icons', namespace: 'mdi-icons' }));
    b.onLoad({ filter: /.*/, namespace: 'mdi-icons' }, async () => {
      const names = (await readFile(join(src, 'icons.txt'), 'utf8')).split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
      const out = {};
      for (const n of names) {
        const path = mdi['mdi' + n.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('')];
        if (!path) throw new Error(`src/icons.txt: @mdi/js has no icon ${n}`);
        out[n] = path;
      }
      return { contents: `export default ${JSON.stringify(out)};`, loader: 'js' };
    });
  },
};

await build({
  entryPoints: [join(src, 'main.js')],
  plugins: [icons],
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
for (const f of ['index.html', 'icon.svg', 'manifest.webmanifest']) await copyFile(join(src, f), join(dist, f));
