import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/writepath.js', import.meta.url));

/** Runs the real bin with a clean environment (no WRITEPATH_ variables from the caller). */
function writepath(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('writepath CLI', () => {
  it('answers an unknown command with usage and exit code 2', () => {
    const { code, stdout, stderr } = writepath(['frobnicate']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/unknown command "frobnicate"[\s\S]*Usage: writepath/);
    expect(stderr).not.toMatch(/\s+at /); // no stack trace
  });

  it('answers a bad flag or a missing one with exit code 2', () => {
    expect(writepath(['token', '--nope'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--nope'/) });
    expect(writepath(['token'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/token needs --sub/) });
    expect(writepath(['init'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/init needs --database-url/) });
    expect(writepath(['init', '--database-url', 'mongodb://127.0.0.1:1/app'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/declare tables\.<name>\.types by hand/) });
  });

  it('prints help and the version', () => {
    expect(writepath(['--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: writepath/) });
    expect(writepath(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('prints a token signed with the configured secret', async () => {
    const { code, stdout, stderr } = writepath(['token', '--sub', 'u1', '--ttl', '15m'], {
      WRITEPATH_AUTH__JWT__SECRET: 'cli-secret',
      WRITEPATH_AUTH__MODE: 'jwt',
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode('cli-secret'));
    expect(payload.sub).toBe('u1');
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('fails with exit code 1 and a clear message without a secret', () => {
    const { code, stderr } = writepath(['token', '--sub', 'u1'], { WRITEPATH_AUTH__MODE: 'none' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^writepath: no auth.jwt.secret or auth.dev_tokens.private_key configured/);
    expect(stderr).not.toMatch(/\s+at /);
  });
});
