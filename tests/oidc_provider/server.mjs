// A real OpenID Connect provider (the `oidc-provider` package) for Pulse's SSO tests.
//
// Usage: node server.mjs CONFIG.json — the config names the port, clients, accounts and
// options; the process prints "ready" once it listens. Its own login page stands in for
// Google's or Okta's: a username and a password, then consent is granted by itself.
// With "rogue_jwks" the JWKS it publishes holds another key under the same key id, so
// its ID tokens are signed by a key the relying party cannot trust.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;

function rsaJwk(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

function publicPart({ kty, n, e, kid, alg, use }) {
  return { kty, n, e, kid, alg, use };
}

const signingKey = rsaJwk('test-key');
const accounts = config.accounts; // login name -> { password, sub, email, email_verified, name }
const bySub = Object.fromEntries(Object.values(accounts).map((a) => [a.sub, a]));

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  })),
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Google and Keycloak put the e-mail in the ID token; with conform_id_token_claims the
  // relying party must ask the userinfo endpoint for it, as with some Okta set-ups.
  conformIdTokenClaims: Boolean(config.conform_id_token_claims),
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['test-only-cookie-key'] },
  async findAccount(ctx, sub) {
    const account = bySub[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: account.email, email_verified: account.email_verified, name: account.name };
      },
    };
  },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, error) {
  res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Test provider sign-in</h1>${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form></body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function grantConsent(req, res, interaction) {
  const { prompt: { details }, params, session: { accountId } } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interactions(req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== match[1]) throw new Error('interaction mismatch');
  if (interaction.prompt.name === 'consent') return grantConsent(req, res, interaction);
  if (req.method !== 'POST' || !match[2]) return loginPage(res, interaction.uid);
  const form = await readForm(req);
  const account = accounts[form.get('username')];
  if (!account || account.password !== form.get('password')) {
    return loginPage(res, interaction.uid, 'Wrong username or password.');
  }
  return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
}

const rogueJwks = { keys: [publicPart(rsaJwk('test-key'))] };
const callback = provider.callback();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/interaction/')) return await interactions(req, res, url);
    if (url.pathname === '/favicon.ico') return res.writeHead(204).end(); // no console error in the browser
    if (config.rogue_jwks && url.pathname === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(rogueJwks));
    }
    return callback(req, res);
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    return res.end(`error: ${err.message}`);
  }
});

server.listen(config.port, '127.0.0.1', () => console.log('ready'));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
