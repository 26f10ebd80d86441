import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, sql } from '../../test/support/pg.ts';
import { dollarQuoted, literal } from './sql.ts';

let db: string;
beforeAll(async () => {
  db = await createTestDatabase('quoting');
});

const awkward = ['', 'plain', "it's", 'a\\b', '\\', '$', 'end$', '$wp$', 'x$wp', '$wp1$ and $wp$', '$wp', 'wp$', '{"a":"\\"q\\" \\\\ \'"}'];

describe('SQL literals read back by Postgres as they were written', () => {
  it.each(awkward)('%j', async (value) => {
    const [row] = await sql(db, `SELECT ${dollarQuoted(value)}::text AS dollar, ${literal(value)}::text AS quoted`);
    expect(row).toEqual({ dollar: value, quoted: value });
  });
});
