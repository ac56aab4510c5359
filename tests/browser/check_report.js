// Opens one of cutover's HTML reports in the system's headless Chromium (/usr/bin/chromium,
// never a downloaded browser), driven by the pinned playwright-core, and writes what a person
// and an auditor would see to OUT_DIR: the rendered text, a full-page screenshot, the printed
// PDF, every network request the page made (through the DevTools protocol and playwright's own
// events), an axe-core accessibility run, and how much of the screenshot is not blank.
//
// node check_report.js REPORT.html OUT_DIR
//
// Prints one JSON object; the Rust test (tests/cli/report.rs) makes the assertions.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const [report, outDir] = process.argv.slice(2);
if (!report || !outDir) {
  process.stderr.write('usage: node check_report.js REPORT.html OUT_DIR\n');
  process.exit(2);
}

// A fresh profile each run: nothing remembered, nothing synced.
const profile = mkdtempSync(join(tmpdir(), 'cutover-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
  viewport: { width: 1100, height: 900 },
  // The report's own policy forbids every script; axe is injected by this test after the
  // network has been recorded.
  bypassCSP: true,
});

/** Records every request a page makes, both ways. */
async function recorder(page) {
  const seen = [];
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (event) => seen.push({ via: 'devtools', url: event.request.url }));
  page.on('request', (request) => seen.push({ via: 'playwright', url: request.url() }));
  return seen;
}

try {
  // The recorder is proven on a canary first: a page that does fetch something (a loopback
  // port nobody listens on) must show up, or "no request" below would prove nothing.
  const canary = await context.newPage();
  const canarySeen = await recorder(canary);
  await canary.setContent('<img alt="" src="http://127.0.0.1:9/canary.png">');
  await canary.waitForTimeout(300);
  const canaryRecorded = canarySeen.some((r) => r.via === 'devtools' && r.url.includes('canary.png'))
    && canarySeen.some((r) => r.via === 'playwright' && r.url.includes('canary.png'));
  await canary.close();

  const page = await context.newPage();
  const seen = await recorder(page);
  const url = pathToFileURL(resolve(report)).href;
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForTimeout(300);
  const text = await page.evaluate(() => document.body.innerText);
  const screenshot = await page.screenshot({ fullPage: true });
  writeFileSync(join(outDir, 'report.png'), screenshot);
  await page.emulateMedia({ media: 'print' });
  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  writeFileSync(join(outDir, 'report.pdf'), pdf);
  await page.emulateMedia({ media: 'screen' });
  const requests = seen.filter((r) => r.url !== url);

  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });

  // How much of the screenshot is ink: decoded in a blank page (no request), sampled.
  const probe = await context.newPage();
  const pixels = await probe.evaluate(async (base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context2d = canvas.getContext('2d');
    context2d.drawImage(bitmap, 0, 0);
    const data = context2d.getImageData(0, 0, bitmap.width, bitmap.height).data;
    let sampled = 0;
    let ink = 0;
    const shades = new Set();
    for (let i = 0; i < data.length; i += 4 * 7) {
      sampled += 1;
      const sum = data[i] + data[i + 1] + data[i + 2];
      if (sum < 600) ink += 1;
      shades.add(`${data[i] >> 4},${data[i + 1] >> 4},${data[i + 2] >> 4}`);
    }
    return { width: bitmap.width, height: bitmap.height, sampled, ink, shades: shades.size };
  }, screenshot.toString('base64'));
  await probe.close();

  process.stdout.write(`${JSON.stringify({
    url,
    text,
    requests,
    canary_recorded: canaryRecorded,
    violations,
    pixels,
    pdf: join(outDir, 'report.pdf'),
    png: join(outDir, 'report.png'),
  })}\n`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
