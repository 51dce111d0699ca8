#!/usr/bin/env node
// `npm run build:web`: bundles the softphone page (web/, with JsSIP) into public/app.js,
// which the Worker serves as a static asset beside public/index.html and public/style.css.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const result = await build({
  absWorkingDir: root,
  entryPoints: ['web/main.ts'],
  outfile: 'public/app.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  // No source map by default: it would be published with the assets. WEB_SOURCEMAP=1 for debugging.
  sourcemap: process.env.WEB_SOURCEMAP === '1' ? 'linked' : false,
  metafile: true,
  logLevel: 'warning',
});

// The service worker (Web Push): its own file at the site's root, so that its scope is the page's.
await build({ absWorkingDir: root, entryPoints: ['web/sw.ts'], outfile: 'public/sw.js', bundle: true, format: 'iife', platform: 'browser', target: ['chrome110', 'firefox110', 'safari16'], minify: true, logLevel: 'warning' });

const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`build:web: public/app.js ${(bytes / 1024).toFixed(0)} KiB, public/sw.js`);
