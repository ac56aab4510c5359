// A real OpenID Connect authorization server (oidc-provider) on loopback, for cutover's tests.
//
// It plays Microsoft's identity platform: the scheduling platform (`cutover sandbox serve`) is an
// OAuth client that sends an admin here to sign in as the service account (authorization code +
// PKCE); cutover's http target and mailbox pre-check get app tokens here (client credentials);
// `sandbox serve` introspects the tokens it is shown.
//
// Configuration comes from the environment:
//   IDP_CLIENTS      JSON array of client metadata (client_id, client_secret, redirect_uris, grant_types...)
//   IDP_PORT         port to listen on (0: a free one); the first stdout line is {"issuer": "..."}
//   IDP_CODE_TTL     authorization code lifetime in seconds (default 60)
//   IDP_TOKEN_TTL    access token lifetime in seconds (default 3600)
//   IDP_TOKEN_LOG    a file that receives every token issued, one per line (so tests can prove
//                    cutover never wrote one anywhere)
//   IDP_SHAPE        "oidc" (default): ID tokens with a verified `email` and `sub` = the account;
//                    "entra": as Microsoft Entra ID issues them — no `email_verified`, a pairwise
//                    `sub` (opaque, per client), `preferred_username`, `tid`, `oid`, and an
//                    `email` nobody vouches for
//   IDP_TENANT       the tenant GUID of `tid` (default 6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b)
//
// Clients may authenticate with `private_key_jwt` (give `token_endpoint_auth_method`,
// `token_endpoint_auth_signing_alg` and `jwks` in IDP_CLIENTS): the assertion's audience may be
// the token endpoint, as Entra ID requires.
//
// POST /test/revoke-all revokes every access token in IDP_TOKEN_LOG (a test control).
//
// There is no login page: the test's "browser" (browser.js) answers /interaction/{uid} itself,
// choosing which account signs in, and consenting or declining.

import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider, { interactionPolicy } from 'oidc-provider';

const RESOURCES = {
  'urn:cutover:platform-api': ['platform.admin'],
  'https://graph.microsoft.com': ['https://graph.microsoft.com/.default'],
  'https://outlook.office365.com': ['https://outlook.office365.com/EWS.AccessAsUser.All'],
};

function resourceFor(scope) {
  const requested = String(scope || '').split(' ');
  for (const [resource, scopes] of Object.entries(RESOURCES)) {
    if (scopes.some((s) => requested.includes(s))) return resource;
  }
  return undefined;
}

const port = Number(process.env.IDP_PORT || 0);
const shape = process.env.IDP_SHAPE || 'oidc';
const tenant = process.env.IDP_TENANT || '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';
const entra = shape === 'entra';
const clients = JSON.parse(process.env.IDP_CLIENTS || '[]').map((client) => (
  // Entra ID's `sub` is pairwise: the same account has another one in every app.
  entra && (client.grant_types || []).includes('authorization_code') ? { ...client, subject_type: 'pairwise' } : client
));
const hash = (...parts) => crypto.createHash('sha256').update(parts.join('|')).digest('base64url');

// `prompt=select_account` is a prompt of its own (oidc-provider knows only login and consent):
// the account is chosen, as Entra ID's account picker does, even with a session.
const policy = interactionPolicy.base();
policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0);
const codeTtl = Number(process.env.IDP_CODE_TTL || 60);
const tokenTtl = Number(process.env.IDP_TOKEN_TTL || 3600);
const tokenLog = process.env.IDP_TOKEN_LOG;

const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: entra
    ? { openid: ['sub', 'tid', 'oid'], profile: ['preferred_username', 'name'], email: ['email'] }
    : { openid: ['sub'], email: ['email', 'email_verified'] },
  subjectTypes: entra ? ['public', 'pairwise'] : ['public'],
  pairwiseIdentifier: async (ctx, accountId, client) => hash('pairwise', tenant, accountId, client.clientId),
  // The test directory's accounts are their email addresses (verified, in the plain shape; in
  // Entra's, the user principal name, with a mail attribute nobody vouches for).
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => (entra
      ? { sub, tid: tenant, oid: hash('oid', tenant, sub), preferred_username: sub, name: sub.split('@')[0], email: sub }
      : { sub, email: sub, email_verified: true }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf || resourceFor(ctx.oidc.params.scope),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const scopes = RESOURCES[resourceIndicator];
        if (!scopes) throw new Error(`unknown resource ${resourceIndicator}`);
        return { scope: scopes.join(' '), audience: resourceIndicator, accessTokenFormat: 'opaque', accessTokenTTL: tokenTtl };
      },
    },
  },
  ttl: {
    AuthorizationCode: codeTtl,
    AccessToken: tokenTtl,
    ClientCredentials: tokenTtl,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 86400,
  },
  // Entra ID puts the account's claims in the ID token itself.
  conformIdTokenClaims: false,
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Tokens are opaque here; introspection tells resource servers what they are.
  clientBasedCORS: () => false,
});
provider.proxy = false;

if (tokenLog) {
  const record = (token) => {
    if (token?.jti) fs.appendFileSync(tokenLog, `${token.jti}\n`);
  };
  for (const event of ['access_token.saved', 'client_credentials.saved', 'refresh_token.saved', 'authorization_code.saved', 'access_token.issued', 'client_credentials.issued']) {
    provider.on(event, record);
  }
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text || '{}');
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      uid,
      prompt: details.prompt.name,
      login_hint: details.params.login_hint || null,
      client_id: details.params.client_id,
      scope: details.params.scope,
    }));
    return;
  }
  if (action === 'login') {
    // Choosing the account (select_account) is signing in as it.
    const { account } = await body(req);
    await provider.interactionFinished(req, res, { select_account: {}, login: { accountId: account } }, { mergeWithLastSubmission: false });
  } else if (action === 'consent') {
    const { prompt: { details: missing }, params, session, grantId } = details;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const id = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId: id } }, { mergeWithLastSubmission: true });
  } else if (action === 'deny') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The administrator declined to grant access.' },
      { mergeWithLastSubmission: false },
    );
  } else {
    res.statusCode = 404;
    res.end();
  }
}

// Test control: revoke every access token issued so far, as an admin revoking the app's
// sessions would, so a client holding one gets 401 on its next call.
async function revokeAll(res) {
  const values = tokenLog && fs.existsSync(tokenLog) ? fs.readFileSync(tokenLog, 'utf8').split('\n').filter(Boolean) : [];
  let revoked = 0;
  for (const value of values) {
    for (const model of [provider.AccessToken, provider.ClientCredentials]) {
      const token = await model.find(value);
      if (token) {
        await token.destroy();
        revoked += 1;
      }
    }
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ revoked }));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (req.method === 'POST' && req.url === '/test/revoke-all') {
    await revokeAll(res);
    return;
  }
  const match = req.url.match(/^\/interaction\/([^/?]+)(?:\/(login|consent|deny))?/);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    res.statusCode = 400;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: String(error?.message || error) }));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
