// Build step: the status page's files next to the compiled server (dist/cli/status-page/), with the
// chart library (uPlot, MIT) copied from node_modules so the page works offline, from the package alone.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist/cli/status-page');
mkdirSync(out, { recursive: true });
const source = path.join(root, 'src/cli/status-page');
for (const name of readdirSync(source)) copyFileSync(path.join(source, name), path.join(out, name));
const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
copyFileSync(path.join(uplot, 'dist/uPlot.iife.min.js'), path.join(out, 'uPlot.iife.min.js'));
copyFileSync(path.join(uplot, 'dist/uPlot.min.css'), path.join(out, 'uPlot.min.css'));
copyFileSync(path.join(uplot, 'LICENSE'), path.join(out, 'uPlot.LICENSE'));
