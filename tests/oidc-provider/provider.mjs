// A real OpenID Connect provider (panva/oidc-provider 8) for Kage's tests: the identity provider a game
// operator would run, shrunk to two players and one native client. Tests start it on 127.0.0.1, read its
// issuer URL from the first line of stdout, and drive its login and consent pages with plain form posts.
//
// What it offers, and why:
// - accounts `main`, `alt` and `twin` (login name, password `<name>-password`): `sub` is a stable id that is
//   not the login name, so a server that keyed players by name would be caught; `twin`'s preferred_username
//   is "main", to collide with `main`'s.
// - client `kage`: public native app (no secret, PKCE S256 required), redirect `http://127.0.0.1/callback` on
//   any port (RFC 8252 7.3: oidc-provider ignores the port of loopback redirects for native clients).
// - access tokens for a resource (RFC 8707) are JWTs whose `aud` is the resource and which carry
//   `preferred_username`; with no `resource` parameter the first audience is used, so a client asking only for
//   `openid profile offline_access` still gets a token the game server accepts.
// - refresh tokens whether or not `offline_access` survived (see issueRefreshToken); revocation on. By default
//   they rotate on every use with reuse detection (oidc-provider's default for a public client): presenting a
//   spent one revokes the whole grant. KAGE_OIDC_ROTATE_REFRESH=0 turns rotation off for the `kage` client,
//   as a provider that trusts its native clients' refresh tokens to stay on one computer may do: the token
//   then stays valid until it expires or is revoked.
// - POST /__admin/rotate-signing-key: a new signing key is put first (it signs from now on) while every earlier
//   key stays in the JWKS, as a provider does in a real rotation. Sessions, grants and refresh tokens survive it.
//
// Environment (all optional):
//   KAGE_OIDC_PORT          port to listen on (default 0: any free port)
//   KAGE_OIDC_AUDIENCES     comma-separated resource indicators tokens may be issued for
//                           (default https://kage.test/api); the first one is the default
//   KAGE_OIDC_ALG           access-token signing algorithm: RS256 (default), PS256, ES256 or EdDSA
//   KAGE_OIDC_ACCESS_TTL    access-token lifetime in seconds (default 300)
//   KAGE_OIDC_REFRESH_TTL   refresh-token lifetime in seconds (default 86400)
//   KAGE_OIDC_SESSION_TTL   provider (browser) session lifetime in seconds (default 86400)
//   KAGE_OIDC_ROTATE_REFRESH  0: refresh tokens of client `kage` are not rotated on use (default 1: rotated)
// The process exits when its stdin closes, so a test runner that dies never leaves it behind.

import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const port = Number(env.KAGE_OIDC_PORT ?? 0);
const audiences = (env.KAGE_OIDC_AUDIENCES ?? 'https://kage.test/api').split(',').map((a) => a.trim()).filter(Boolean);
const alg = env.KAGE_OIDC_ALG ?? 'RS256';
const accessTtl = Number(env.KAGE_OIDC_ACCESS_TTL ?? 300);
const refreshTtl = Number(env.KAGE_OIDC_REFRESH_TTL ?? 86400);
const sessionTtl = Number(env.KAGE_OIDC_SESSION_TTL ?? 86400);
const rotateRefresh = (env.KAGE_OIDC_ROTATE_REFRESH ?? '1') !== '0';

const ACCOUNTS = [
  { login: 'main', password: 'main-password', sub: '2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0001', preferred_username: 'main' },
  { login: 'alt', password: 'alt-password', sub: '2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0002', preferred_username: 'alt' },
  { login: 'twin', password: 'twin-password', sub: '2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0003', preferred_username: 'main' },
];
const bySub = new Map(ACCOUNTS.map((a) => [a.sub, a]));

// ---- signing keys ---------------------------------------------------------------------------------------
let generation = 0;
// Newest first: oidc-provider signs with the first key that fits an algorithm and verifies with any.
let keys = [];

function newKey(kind) {
  const [type, options] = {
    RSA: ['rsa', { modulusLength: 2048 }],
    EC: ['ec', { namedCurve: 'P-256' }],
    OKP: ['ed25519', {}],
  }[kind];
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${kind.toLowerCase()}-${generation}-${crypto.randomBytes(4).toString('hex')}`, use: 'sig' };
}

function rotateKeys() {
  generation += 1;
  // ID tokens are RS256 (the OpenID default), so there is always an RSA key; access tokens may use another.
  const fresh = [newKey('RSA')];
  if (alg === 'ES256') fresh.push(newKey('EC'));
  if (alg === 'EdDSA') fresh.push(newKey('OKP'));
  keys = [...fresh, ...keys];
  return fresh;
}

// ---- the provider ---------------------------------------------------------------------------------------
const cookieKeys = [crypto.randomBytes(32).toString('hex')];

function configuration() {
  return {
    clients: [{
      client_id: 'kage',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }],
    pkce: { required: () => true, methods: ['S256'] },
    scopes: ['openid', 'profile', 'offline_access'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
    async findAccount(ctx, sub) {
      const account = bySub.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: account.preferred_username, name: account.login };
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => (oneOf ? oneOf[0] : audiences[0]),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => {
          if (!audiences.includes(resource)) throw new errors.InvalidTarget();
          return {
            scope: 'kage',
            audience: resource,
            accessTokenTTL: accessTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken') return undefined;
      const account = bySub.get(token.accountId);
      // `sid`, as Keycloak and Entra put in access tokens: the provider's login session, kept across a new
      // login in the same browser session (what a sign-out on the game server must not outlive, issue 17.6).
      return account ? { preferred_username: account.preferred_username, sid: token.sessionUid } : undefined;
    },
    // OpenID Connect drops `offline_access` unless the request also says prompt=consent; Kage asks for it
    // without (as most providers allow), so a client allowed the refresh_token grant always gets one, and it
    // outlives the provider's browser session.
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    expiresWithSession: async () => false,
    // Only when switched off: otherwise oidc-provider's own default decides (rotate for public clients).
    ...(rotateRefresh ? {} : { rotateRefreshToken: (ctx) => ctx.oidc.client.clientId !== 'kage' }),
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: refreshTtl,
      Session: sessionTtl,
      Grant: refreshTtl,
    },
    interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: cookieKeys },
    jwks: { keys },
  };
}

function build() {
  const provider = new Provider(issuer, configuration());
  return { provider, handle: provider.callback() };
}

// ---- login and consent pages ----------------------------------------------------------------------------
// Shaped like oidc-provider's devInteractions (a form with a hidden `prompt` field posted back to the page's
// own URL), but the password is checked and the account is a stable `sub`, not the typed login name.

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><title>${escape(title)}</title></head><body>${body}</body></html>`);
}

function loginPage(res, uid, error) {
  page(res, 200, 'Sign-in', `<h1>Sign-in</h1>${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<input type="hidden" name="prompt" value="login">
<input name="login" placeholder="login" autofocus>
<input name="password" type="password" placeholder="password">
<button type="submit">Sign-in</button></form>`);
}

function consentPage(res, uid, clientId) {
  page(res, 200, 'Authorize', `<h1>Authorize ${escape(clientId)}</h1>
<form method="post" action="/interaction/${escape(uid)}">
<input type="hidden" name="prompt" value="consent">
<button type="submit">Continue</button></form>`);
}

async function readForm(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 16 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(text);
}

async function interaction(req, res, uid) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, 'Error', '<p>interaction mismatch</p>');
    return;
  }
  const { prompt, params, session, grantId } = details;
  if (req.method === 'GET') {
    if (prompt.name === 'login') loginPage(res, uid);
    else consentPage(res, uid, params.client_id);
    return;
  }
  if (req.method !== 'POST') {
    page(res, 405, 'Error', '<p>method not allowed</p>');
    return;
  }
  const form = await readForm(req);
  if (form.get('prompt') === 'login' && prompt.name === 'login') {
    const account = ACCOUNTS.find((a) => a.login === form.get('login'));
    if (!account || account.password !== form.get('password')) {
      loginPage(res, uid, 'wrong login or password');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  // The player pressed Cancel: the provider answers the client with access_denied (OIDC Core 3.1.2.6).
  if (form.get('prompt') === 'abort') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    return;
  }
  if (form.get('prompt') === 'consent' && prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { details: missing } = prompt;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }
  page(res, 400, 'Error', `<p>unexpected form for prompt ${escape(prompt.name)}</p>`);
}

// ---- admin: test-only controls, on a path the provider never uses -------------------------------------
function admin(req, res, path) {
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && path === '/__admin/rotate-signing-key') {
    const fresh = rotateKeys();
    current = build();
    json(200, { signing_kids: fresh.map((k) => k.kid), kids: keys.map((k) => k.kid) });
    return;
  }
  if (req.method === 'GET' && path === '/__admin/keys') {
    json(200, { kids: keys.map((k) => k.kid) });
    return;
  }
  json(404, { error: 'not_found' });
}

// ---- wiring ---------------------------------------------------------------------------------------------
let issuer;
let current;

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (path.startsWith('/__admin/')) {
    admin(req, res, path);
    return;
  }
  const match = path.match(/^\/interaction\/([^/]+)$/);
  if (match) {
    interaction(req, res, match[1]).catch((error) => {
      if (!res.headersSent) page(res, 400, 'Error', `<p>${escape(error.message)}</p>`);
      else res.end();
    });
    return;
  }
  current.handle(req, res);
});

server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  rotateKeys();
  current = build();
  process.stdout.write(`${issuer}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
