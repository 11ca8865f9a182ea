#!/usr/bin/env node
// A minimal OpenID Connect provider for the end-to-end tests, serving HTTPS on 127.0.0.1
// with a self-signed certificate that `openssl` makes at start. It implements what the web
// app and `prism serve` use. Discovery and JWKS publish one RS256 key made at start. The
// authorize endpoint shows a sign-in form for one fixed test user. The token endpoint
// exchanges authorization codes (with a PKCE S256 check) and refresh tokens. The logout
// endpoint redirects back to the client. It is a test
// fixture, not a secure provider: any loopback redirect URI is accepted, and /test/*
// endpoints sign arbitrary claims and report which requests arrived.
//
// Usage: node e2e/oidc-provider.mjs [--port 0] [--client-id prism-e2e-web]
//   [--access-token-seconds 300] --dir <directory for cert.pem and key.pem>
// Prints one JSON line when it listens: {"issuer", "caFile", "port"}. The issuer uses the
// host name localhost, which the certificate names (with IP 127.0.0.1).
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

const TEST_USER = { sub: 'oidc|e2e-user', name: 'Olive Provider', email: 'olive@example.test' };
const CODE_SECONDS = 60;
const MAX_BODY_BYTES = 16 * 1024;

function parseArgs(argv) {
  const options = { port: 0, clientId: 'prism-e2e-web', accessTokenSeconds: 300, dir: '' };
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1];
    if (argv[i] === '--port') options.port = Number(value);
    else if (argv[i] === '--client-id') options.clientId = value;
    else if (argv[i] === '--access-token-seconds') options.accessTokenSeconds = Number(value);
    else if (argv[i] === '--dir') options.dir = value;
    else throw new Error(`unknown option ${argv[i]}`);
    i += 1;
  }
  if (!options.dir) throw new Error('--dir is required: a directory for the TLS certificate and key');
  return options;
}

/** Makes a self-signed certificate for localhost and 127.0.0.1, valid for one day. */
function makeCertificate(dir) {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { certFile, key: readFileSync(keyFile), cert: readFileSync(certFile) };
}

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** Makes the signing key, returning its JWKS and an RS256 JWT signer for arbitrary claims. */
function makeSigner() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = base64url(randomBytes(8));
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const signJwt = (claims) => {
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = base64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
    return `${header}.${payload}.${base64url(signature)}`;
  };
  return { jwks: { keys: [jwk] }, signJwt };
}

/** True for http(s) URLs on a loopback host; the provider accepts any of them as a redirect URI. */
function isLoopbackUrl(value) {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error('request body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  response.writeHead(status, {
    'Content-Type': isJson ? 'application/json' : 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Access-Control-Allow-Origin': '*',
    ...headers,
  });
  response.end(isJson ? JSON.stringify(body) : body);
}

function redirect(response, url) {
  response.writeHead(302, { Location: url, 'Cache-Control': 'no-store' });
  response.end();
}

function createProvider({ issuer, clientId, accessTokenSeconds, signer }) {
  const codes = new Map();
  const refreshTokens = new Map();
  const counts = { authorizationCode: 0, refreshToken: 0, logout: 0, rejectedTokenRequests: 0 };

  const discovery = {
    issuer,
    authorization_endpoint: `${issuer}authorize`,
    token_endpoint: `${issuer}oauth/token`,
    jwks_uri: `${issuer}.well-known/jwks.json`,
    end_session_endpoint: `${issuer}logout`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
  };

  /** Checks an authorize request; returns an error description or null. */
  function authorizeProblem(params) {
    if (params.get('client_id') !== clientId) return `unknown client_id ${params.get('client_id')}`;
    if (!isLoopbackUrl(params.get('redirect_uri'))) return 'redirect_uri must be a loopback URL';
    if (params.get('response_type') !== 'code') return 'response_type must be code';
    if (!(params.get('scope') ?? '').split(' ').includes('openid')) return 'scope must include openid';
    if (params.get('code_challenge_method') !== 'S256') return 'code_challenge_method must be S256';
    if (!/^[A-Za-z0-9_-]{43}$/.test(params.get('code_challenge') ?? '')) return 'code_challenge is missing or malformed';
    return null;
  }

  function signInForm(params) {
    const hidden = [...params]
      .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
      .join('\n');
    return `<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Test provider</h1>
<form method="post" action="${escapeHtml(`${issuer}authorize`)}">
${hidden}
<label for="email">Email</label> <input id="email" name="login_email" value="${escapeHtml(TEST_USER.email)}">
<button type="submit">Continue</button>
</form></body></html>`;
  }

  /** Issues the code for an approved authorize request and redirects back to the client. */
  function approve(params, response) {
    const code = base64url(randomBytes(24));
    codes.set(code, {
      redirectUri: params.get('redirect_uri'),
      challenge: params.get('code_challenge'),
      scope: params.get('scope'),
      audience: params.get('audience') ?? '',
      nonce: params.get('nonce'),
      expiresAt: Date.now() + CODE_SECONDS * 1000,
    });
    const target = new URL(params.get('redirect_uri'));
    target.searchParams.set('code', code);
    if (params.has('state')) target.searchParams.set('state', params.get('state'));
    redirect(response, target.toString());
  }

  function issueTokens({ scope, audience, nonce }) {
    const now = Math.floor(Date.now() / 1000);
    const common = { iss: issuer, sub: TEST_USER.sub, iat: now, name: TEST_USER.name, email: TEST_USER.email };
    const body = {
      token_type: 'Bearer',
      expires_in: accessTokenSeconds,
      scope,
      access_token: signer.signJwt({ ...common, aud: audience, exp: now + accessTokenSeconds, scope }),
      id_token: signer.signJwt({ ...common, aud: clientId, exp: now + 3600, ...(nonce ? { nonce } : {}) }),
    };
    if (scope.split(' ').includes('offline_access')) {
      body.refresh_token = base64url(randomBytes(24));
      refreshTokens.set(body.refresh_token, { scope, audience });
    }
    return body;
  }

  function tokenError(response, description) {
    counts.rejectedTokenRequests += 1;
    send(response, 400, { error: 'invalid_grant', error_description: description });
  }

  function handleToken(form, response) {
    if (form.get('client_id') !== clientId) return tokenError(response, 'unknown client_id');
    if (form.get('grant_type') === 'authorization_code') {
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!grant || grant.expiresAt < Date.now()) return tokenError(response, 'unknown, used or expired code');
      if (form.get('redirect_uri') !== grant.redirectUri) return tokenError(response, 'redirect_uri differs');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (challenge !== grant.challenge) return tokenError(response, 'code_verifier does not match the code_challenge');
      counts.authorizationCode += 1;
      return send(response, 200, issueTokens(grant));
    }
    if (form.get('grant_type') === 'refresh_token') {
      const grant = refreshTokens.get(form.get('refresh_token') ?? '');
      refreshTokens.delete(form.get('refresh_token') ?? '');
      if (!grant) return tokenError(response, 'unknown or used refresh_token');
      counts.refreshToken += 1;
      return send(response, 200, issueTokens(grant));
    }
    return send(response, 400, { error: 'unsupported_grant_type' });
  }

  async function handle(request, response) {
    const url = new URL(request.url, issuer);
    const route = `${request.method} ${url.pathname}`;
    if (request.method === 'OPTIONS') {
      return send(response, 204, '', {
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': request.headers['access-control-request-headers'] ?? '',
      });
    }
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        return send(response, 200, discovery);
      case 'GET /.well-known/jwks.json':
        return send(response, 200, signer.jwks);
      case 'GET /authorize': {
        const problem = authorizeProblem(url.searchParams);
        if (problem) return send(response, 400, `<p>Invalid authorize request: ${escapeHtml(problem)}</p>`);
        return send(response, 200, signInForm(url.searchParams));
      }
      case 'POST /authorize': {
        const form = new URLSearchParams(await readBody(request));
        const problem = authorizeProblem(form);
        if (problem) return send(response, 400, `<p>Invalid authorize request: ${escapeHtml(problem)}</p>`);
        form.delete('login_email');
        return approve(form, response);
      }
      case 'POST /oauth/token':
        return handleToken(new URLSearchParams(await readBody(request)), response);
      case 'GET /logout': {
        counts.logout += 1;
        const target = url.searchParams.get('post_logout_redirect_uri');
        if (!target || !isLoopbackUrl(target)) return send(response, 200, '<p>Signed out.</p>');
        const back = new URL(target);
        if (url.searchParams.has('state')) back.searchParams.set('state', url.searchParams.get('state'));
        return redirect(response, back.toString());
      }
      case 'POST /test/sign':
        return send(response, 200, { token: signer.signJwt(JSON.parse(await readBody(request))) });
      case 'GET /test/counts':
        return send(response, 200, counts);
      case 'GET /test/user':
        return send(response, 200, TEST_USER);
      default:
        return send(response, 404, { error: `no route for ${route}` });
    }
  }

  return (request, response) => {
    handle(request, response).catch((error) => {
      console.error('oidc-provider: request failed', request.method, request.url, error);
      if (!response.headersSent) send(response, 500, { error: String(error) });
      else response.end();
    });
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tls = makeCertificate(options.dir);
  const signer = makeSigner();
  let handler = null;
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (request, response) => handler(request, response));
  await new Promise((resolve) => server.listen(options.port, '127.0.0.1', resolve));
  const port = server.address().port;
  const issuer = `https://localhost:${port}/`;
  handler = createProvider({ issuer, clientId: options.clientId, accessTokenSeconds: options.accessTokenSeconds, signer });
  console.log(JSON.stringify({ issuer, caFile: tls.certFile, port }));
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  console.error(`oidc-provider: ${error.message}`);
  process.exit(1);
});
