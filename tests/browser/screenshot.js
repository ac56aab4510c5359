// The README's picture of a report: the top of REPORT.html in the system's headless Chromium,
// as a PNG. Run by tests/browser/readme-screenshot.sh (not by the tests).
//
// node screenshot.js REPORT.html OUT.png

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

const [report, png] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'cutover-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1100, height: 1500 },
});
try {
  const page = await context.newPage();
  await page.goto(pathToFileURL(resolve(report)).href, { waitUntil: 'load' });
  await page.screenshot({ path: png, fullPage: false });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
