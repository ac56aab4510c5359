// The admin's browser, headless: opens an authorization URL, signs in at idp.js, consents (or
// declines), and follows the redirects back to the scheduling platform's callback.
//
// node browser.js URL [--account EMAIL] [--deny] [--pause-before-callback MS]
//
// Without --account it signs in as the URL's login_hint, as an admin following cutover's
// checklist would. Prints `callback URL`, then the callback's status and body.

const args = process.argv.slice(2);
let url = args[0];
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const account = option('--account');
const deny = args.includes('--deny');
const pause = Number(option('--pause-before-callback') || 0);

const issuer = new URL(url).origin;
const jar = new Map();
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const keep = (response) => {
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
};

async function go(target, init = {}) {
  const response = await fetch(target, { ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie: cookies() } });
  keep(response);
  return response;
}

for (let hops = 0; hops < 30; hops += 1) {
  const here = new URL(url);
  if (here.origin !== issuer) {
    // Back at the platform: deliver the callback, as the browser would.
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    process.stdout.write(`callback ${url}\n`);
    const response = await fetch(url, { redirect: 'manual' });
    process.stdout.write(`${response.status} ${await response.text()}\n`);
    process.exit(response.status < 400 ? 0 : 1);
  }
  if (here.pathname.startsWith('/interaction/')) {
    const uid = here.pathname.split('/')[2];
    const page = await (await go(url)).json();
    let action = 'consent';
    let body = '{}';
    if (page.prompt === 'login' || page.prompt === 'select_account') {
      action = deny ? 'deny' : 'login';
      body = JSON.stringify({ account: account || page.login_hint });
    } else if (deny) {
      action = 'deny';
    }
    const response = await go(`${issuer}/interaction/${uid}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    url = new URL(response.headers.get('location'), issuer).href;
    continue;
  }
  const response = await go(url);
  const location = response.headers.get('location');
  if (!location) {
    process.stdout.write(`stuck at ${url}: ${response.status} ${await response.text()}\n`);
    process.exit(2);
  }
  url = new URL(location, url).href;
}
process.stdout.write('too many redirects\n');
process.exit(2);
