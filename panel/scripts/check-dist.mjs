// check-dist builds src/ into a temporary directory and compares it, file by
// file, with the committed dist/: `make test` fails when someone changed
// src/ and did not run `npm run build`, or edited dist/ by hand. The build
// is deterministic (same inputs, same bytes), so any difference is real.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const fresh = await mkdtemp(join(tmpdir(), 'mfd-panel-'));
try {
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), fresh], { stdio: 'inherit' });
  const want = (await readdir(fresh)).sort();
  const have = (await readdir(dist)).sort();
  const bad = [];
  for (const f of new Set([...want, ...have])) {
    if (!want.includes(f)) { bad.push(`${f}: in dist/ but not built from src/`); continue; }
    if (!have.includes(f)) { bad.push(`${f}: built from src/ but missing from dist/`); continue; }
    const [a, b] = await Promise.all([readFile(join(fresh, f)), readFile(join(dist, f))]);
    if (!a.equals(b)) bad.push(`${f}: differs from a fresh build`);
  }
  if (bad.length) {
    console.error(`panel/dist does not match panel/src; run \`cd panel && npm run build\` and commit dist/:\n  ${bad.join('\n  ')}`);
    process.exit(1);
  }
} finally {
  await rm(fresh, { recursive: true, force: true });
}
