/**
 * A table whose writes take as long as the row says, to catch a batch while it runs (stop
 * Postgres, cut its connection, close the server) in the failure tests.
 */
import { sql } from './pg.ts';

export const SLOW_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS slow (id uuid PRIMARY KEY, note text, delay_ms int NOT NULL DEFAULT 0);
CREATE OR REPLACE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(NEW.delay_ms / 1000.0);
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER slow_down BEFORE INSERT OR UPDATE ON slow FOR EACH ROW EXECUTE FUNCTION slow_down();
`;

/** A client transaction of one entry that writes a `slow` row taking `delayMs`. */
export function slowPut(opId: number, delayMs: number, id: string) {
  return { op_id: opId, tx_id: opId, op: 'PUT', type: 'slow', id, data: { note: 'slow', delay_ms: delayMs } };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with the pid of a writepath backend (application_name 'writepath') once one sleeps
 * in pg_sleep: a slow row is being written, everything before it in its batch already is.
 */
export async function waitForSleepingBackend(url: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const rows = await sql(url, `SELECT pid FROM pg_stat_activity WHERE application_name = 'writepath' AND wait_event = 'PgSleep'`);
    if (rows[0]) return rows[0].pid as number;
    await sleep(25);
  }
  throw new Error('no writepath backend reached pg_sleep');
}
