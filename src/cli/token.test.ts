import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseTtl, runToken, signDevToken } from './token.ts';

const key = (secret: string) => new TextEncoder().encode(secret);

describe('signDevToken', () => {
  it('signs an HS256 token that verifies with the secret', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await signDevToken({ secret: 'dev-secret', sub: 'u1', ttl: '1h' });
    const { payload, protectedHeader } = await jwtVerify(token, key('dev-secret'));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('u1');
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.exp! - payload.iat!).toBe(3600);
    await expect(jwtVerify(token, key('other'))).rejects.toThrow();
  });

  it('adds issuer and audience when given', async () => {
    const token = await signDevToken({ secret: 's', sub: 'u2', ttl: 60, issuer: 'me', audience: 'writepath' });
    const { payload } = await jwtVerify(token, key('s'), { issuer: 'me', audience: 'writepath' });
    expect(payload.exp! - payload.iat!).toBe(60);
  });
});

describe('parseTtl', () => {
  it('reads s, m, h, d and bare seconds', () => {
    expect([parseTtl('30s'), parseTtl('15m'), parseTtl('1h'), parseTtl('7d'), parseTtl('90')]).toEqual([30, 900, 3600, 604_800, 90]);
  });
  it('rejects anything else', () => {
    for (const bad of ['', '1w', '-1h', '0s', '1.5h', 'h']) expect(() => parseTtl(bad)).toThrow(/invalid ttl/);
  });
});

describe('runToken', () => {
  it('uses the configured secret, issuer and audience', async () => {
    const env = { WRITEPATH_AUTH__JWT__SECRET: '123', WRITEPATH_AUTH__JWT__ISSUER: 'iss', WRITEPATH_AUTH__JWT__AUDIENCE: 'aud' };
    const token = await runToken({ sub: 'u1', ttl: '15m', env });
    const { payload } = await jwtVerify(token, key('123'), { issuer: 'iss', audience: 'aud' });
    expect(payload.sub).toBe('u1');
  });

  it('writes the user to auth.jwt.user_claim as well as sub', async () => {
    const token = await runToken({ sub: 'u1', env: { WRITEPATH_AUTH__JWT__SECRET: 's', WRITEPATH_AUTH__JWT__USER_CLAIM: 'uid' } });
    const { payload } = await jwtVerify(token, key('s'));
    expect(payload).toMatchObject({ sub: 'u1', uid: 'u1' });
  });

  it('explains that a dev key made at start cannot be signed with from here', async () => {
    await expect(runToken({ sub: 'u1', env: { WRITEPATH_AUTH__DEV_TOKENS__ENABLED: 'true' } })).rejects.toThrow(/GET \/api\/auth\/token/);
  });

  it('explains a missing secret', async () => {
    await expect(runToken({ sub: 'u1', env: {} })).rejects.toThrow(/no auth.jwt.secret or auth.dev_tokens.private_key configured/);
    await expect(runToken({ sub: 'u1', env: { WRITEPATH_AUTH__JWT__JWKS_URL: 'https://id.example/jwks' } })).rejects.toThrow(
      /identity provider/,
    );
  });

  it('reports configuration problems', async () => {
    await expect(runToken({ sub: 'u1', env: { WRITEPATH_BOGUS: '1' } })).rejects.toThrow(/writepath cannot start:\n {2}- bogus: unknown key/);
  });
});
