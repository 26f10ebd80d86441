import { generateKeyPairSync } from 'node:crypto';
import { importPKCS8, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { expectAccepted, expectRefused, postWithAuthorization, oneList } from './support/auth-requests.ts';
import { startJwksServer, type JwksServer } from './support/jwks-server.ts';
import { makeKey, signWith, unsignedToken, type TestKey } from './support/keys.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';

// Every 401 path of PROTOCOL.md 2.1, for every kind of key the server can be given.

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'writepath-test';
const now = () => Math.floor(Date.now() / 1000);
const secretBytes = (secret: string) => new TextEncoder().encode(secret);

let databaseUrl: string;
let jwks: JwksServer;
const servers: TestServer[] = [];

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  await sql(databaseUrl, exampleSchemaSql);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await jwks?.close();
});

async function serve(auth: Record<string, unknown>): Promise<TestServer> {
  const server = await startTestServer({ databaseUrl, config: { auth } });
  servers.push(server);
  return server;
}

/** How one kind of key source is configured, and how to sign for it and against it. */
interface SourceCase {
  name: string;
  jwt: () => Promise<Record<string, unknown>>;
  extraAuth?: () => Promise<Record<string, unknown>>;
  sign: (claims: JWTPayload) => Promise<string>;
  signWrong: (claims: JWTPayload) => Promise<string>;
}

function asymmetric(name: string, alg: 'RS256' | 'PS256' | 'ES256' | 'EdDSA', jwt: (key: TestKey) => Promise<Record<string, unknown>>): SourceCase {
  let key: TestKey;
  let stranger: TestKey;
  return {
    name,
    jwt: async () => {
      key = await makeKey(alg);
      stranger = await makeKey(alg, key.kid); // same kid, other key: a forgery
      return jwt(key);
    },
    sign: (claims) => key.sign(claims),
    signWrong: (claims) => stranger.sign(claims),
  };
}

let devPrivateKey: CryptoKey;
const cases: SourceCase[] = [
  {
    name: 'HS256 secret',
    jwt: async () => ({ secret: TEST_SECRET }),
    sign: (claims) => signWith(secretBytes(TEST_SECRET), { alg: 'HS256' }, claims),
    signWrong: (claims) => signWith(secretBytes('another-secret-of-at-least-32-characters'), { alg: 'HS256' }, claims),
  },
  asymmetric('RS256 PEM public_key', 'RS256', async (key) => ({ public_key: key.pem })),
  asymmetric('ES256 PEM public_key', 'ES256', async (key) => ({ public_key: key.pem })),
  asymmetric('EdDSA PEM public_key', 'EdDSA', async (key) => ({ public_key: key.pem })),
  asymmetric('ES256 inline jwks', 'ES256', async (key) => ({ jwks: { keys: [key.jwk] } })),
  asymmetric('EdDSA inline jwks', 'EdDSA', async (key) => ({ jwks: { keys: [key.jwk] } })),
  asymmetric('PS256 jwks_url', 'PS256', async (key) => {
    jwks = await startJwksServer({ keys: [key.jwk] });
    return { jwks_url: jwks.url, jwks_cooldown_ms: 60_000 };
  }),
  {
    name: 'dev token key (ES256 private_key)',
    jwt: async () => ({}),
    extraAuth: async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      devPrivateKey = await importPKCS8(pem, 'ES256');
      return { dev_tokens: { enabled: true, private_key: pem, kid: 'dev-1' } };
    },
    sign: (claims) => signWith(devPrivateKey, { alg: 'ES256', kid: 'dev-1' }, claims),
    signWrong: async (claims) => (await makeKey('ES256', 'dev-1')).sign(claims),
  },
];

describe.each(cases)('$name', (source) => {
  let server: TestServer;
  const good = (claims: JWTPayload = {}) => source.sign({ iss: ISSUER, aud: AUDIENCE, ...claims });

  beforeAll(async () => {
    const jwt = { ...(await source.jwt()), issuer: ISSUER, audience: AUDIENCE };
    server = await serve({ jwt, ...(await source.extraAuth?.()) });
  });

  it('accepts a good token, also one expired within the 30 s clock tolerance', async () => {
    expect(await expectAccepted(server, await good())).toBe('u1');
    expect(await expectAccepted(server, await good({ exp: now() - 10, sub: 'u2' }))).toBe('u2');
    expect(await expectAccepted(server, await good({ nbf: now() + 10, sub: 'u3' }))).toBe('u3');
  });

  it('answers token_missing and token_malformed for a missing or unusable header', async () => {
    for (const [authorization, code] of [
      [undefined, 'token_missing'],
      ['', 'token_missing'],
      [`Basic ${await good()}`, 'token_malformed'],
      ['Bearer', 'token_malformed'],
      ['Bearer not.a.jwt', 'token_malformed'],
      ['Bearer abc', 'token_malformed'],
      [`Bearer ${Buffer.from('{"typ":"JWT"}').toString('base64url')}.e30.c2ln`, 'token_malformed'],
    ] as const) {
      const answer = await postWithAuthorization(server.url, authorization, oneList());
      expect({ authorization, status: answer.status, code: answer.body.error.code }).toEqual({ authorization, status: 401, code });
    }
  });

  it('answers token_signature for another key, a changed payload and alg none', async () => {
    await expectRefused(server, await source.signWrong({ iss: ISSUER, aud: AUDIENCE }), 401, 'token_signature', 'other key');
    const [header, , signature] = (await good()).split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 })).toString('base64url');
    await expectRefused(server, `${header}.${forgedPayload}.${signature}`, 401, 'token_signature', 'changed payload');
    await expectRefused(server, unsignedToken({ sub: 'u1', iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 }), 401, 'token_signature', 'alg none');
  });

  it('answers token_expired for exp past the tolerance and nbf in the future', async () => {
    await expectRefused(server, await good({ exp: now() - 120 }), 401, 'token_expired', 'exp');
    await expectRefused(server, await good({ nbf: now() + 120 }), 401, 'token_expired', 'nbf');
  });

  it('answers token_issuer and token_audience', async () => {
    await expectRefused(server, await good({ iss: 'https://evil.test' }), 401, 'token_issuer', 'wrong iss');
    await expectRefused(server, await source.sign({ aud: AUDIENCE }), 401, 'token_issuer', 'no iss');
    await expectRefused(server, await good({ aud: 'someone-else' }), 401, 'token_audience', 'wrong aud');
    await expectRefused(server, await source.sign({ iss: ISSUER }), 401, 'token_audience', 'no aud');
  });

  it('answers token_malformed for a token without exp or without a user', async () => {
    await expectRefused(server, await good({ exp: undefined }), 401, 'token_malformed', 'no exp');
    await expectRefused(server, await good({ sub: undefined }), 401, 'token_malformed', 'no sub');
    await expectRefused(server, await good({ sub: '' }), 401, 'token_malformed', 'empty sub');
  });
});

describe('algorithm confusion', () => {
  it('refuses HS256 tokens signed with a public key as the secret, whatever form the key takes', async () => {
    const key = await makeKey('RS256');
    const forgeries = async (kid?: string) => [
      await signWith(secretBytes(key.pem), { alg: 'HS256', ...(kid ? { kid } : {}) }),
      await signWith(secretBytes(JSON.stringify(key.jwk)), { alg: 'HS256', ...(kid ? { kid } : {}) }),
    ];
    jwks ??= await startJwksServer({ keys: [] });
    jwks.answer({ keys: [key.jwk] });
    for (const jwt of [{ public_key: key.pem }, { jwks: { keys: [key.jwk] } }, { jwks_url: jwks.url }]) {
      const server = await serve({ jwt });
      for (const forged of await forgeries(key.kid)) await expectRefused(server, forged, 401, 'token_signature', Object.keys(jwt)[0]);
      expect(await expectAccepted(server, await key.sign())).toBe('u1');
    }
    // With a secret configured too, HS256 is verified with that secret and nothing else.
    const both = await serve({ jwt: { secret: TEST_SECRET, public_key: key.pem } });
    for (const forged of await forgeries()) await expectRefused(both, forged, 401, 'token_signature', 'secret + public_key');
    expect(await expectAccepted(both, await key.sign())).toBe('u1');
    expect(await expectAccepted(both, await signWith(secretBytes(TEST_SECRET), { alg: 'HS256' }))).toBe('u1');
  });

  it('refuses a token whose header names an asymmetric alg but is signed with the HS256 secret', async () => {
    const key = await makeKey('RS256');
    const server = await serve({ jwt: { secret: TEST_SECRET, public_key: key.pem } });
    // jose will not sign RS256 with bytes; build it by hand: header says RS256, signature is an HMAC.
    const hmac = await signWith(secretBytes(TEST_SECRET), { alg: 'HS256' });
    const [, payload, signature] = hmac.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url');
    await expectRefused(server, `${header}.${payload}.${signature}`, 401, 'token_signature');
  });

  it('never takes a key from the token itself (jwk, jku, x5u headers)', async () => {
    const key = await makeKey('ES256');
    const attacker = await makeKey('ES256', key.kid);
    jwks ??= await startJwksServer({ keys: [] });
    jwks.answer({ keys: [attacker.jwk] });
    const server = await serve({ jwt: { jwks: { keys: [key.jwk] } } });
    for (const header of [{ jwk: attacker.jwk }, { jku: jwks.url }, { x5u: jwks.url }]) {
      await expectRefused(server, await attacker.sign({}, header), 401, 'token_signature', Object.keys(header)[0]);
    }
  });

  it('refuses algorithms outside the fixed set, e.g. HS512 with the right secret', async () => {
    const server = await serve({ jwt: { secret: TEST_SECRET } });
    await expectRefused(server, await signWith(secretBytes(TEST_SECRET), { alg: 'HS512' }), 401, 'token_signature');
  });
});

describe('several sources at once', () => {
  it('accepts a token any configured source verifies, choosing by alg and kid', async () => {
    const inline = await makeKey('ES256');
    const pem = await makeKey('EdDSA');
    const remote = await makeKey('RS256');
    const remoteJwks = await startJwksServer({ keys: [remote.jwk] });
    try {
      const multi = await serve({ jwt: { secret: TEST_SECRET, jwks: { keys: [inline.jwk] }, public_key: pem.pem, jwks_url: remoteJwks.url } });
      expect(await expectAccepted(multi, await signWith(secretBytes(TEST_SECRET), { alg: 'HS256' }, { sub: 'h' }))).toBe('h');
      expect(await expectAccepted(multi, await inline.sign({ sub: 'i' }))).toBe('i');
      expect(await expectAccepted(multi, await pem.sign({ sub: 'p' }))).toBe('p');
      expect(remoteJwks.requests).toBe(0); // local keys never make the server ask the key server
      expect(await expectAccepted(multi, await remote.sign({ sub: 'r' }))).toBe('r');
      expect(remoteJwks.requests).toBe(1);
      // Claims are checked once a source verified the signature, whichever it was.
      await expectRefused(multi, await inline.sign({ exp: now() - 3600 }), 401, 'token_expired');
      await expectRefused(multi, await (await makeKey('ES256', inline.kid)).sign(), 401, 'token_signature');
    } finally {
      await remoteJwks.close();
    }
  });
});

describe('auth.jwt.user_claim', () => {
  it('reads the user from the configured claim, not sub', async () => {
    const server = await serve({ jwt: { secret: TEST_SECRET, user_claim: 'user_id' } });
    const sign = (claims: JWTPayload) => signWith(secretBytes(TEST_SECRET), { alg: 'HS256' }, claims);
    expect(await expectAccepted(server, await sign({ sub: 'auth0|123', user_id: 'u-77' }))).toBe('u-77');
    await expectRefused(server, await sign({ sub: 'auth0|123' }), 401, 'token_malformed', 'no user_id');
    await expectRefused(server, await sign({ user_id: 42 }), 401, 'token_malformed', 'numeric user_id');
  });
});

describe('auth.mode: none', () => {
  it('accepts requests without a token as user anonymous', async () => {
    const server = await serve({ mode: 'none' });
    const answer = await postWithAuthorization(server.url, undefined, oneList());
    expect(answer.status).toBe(200);
  });
});
