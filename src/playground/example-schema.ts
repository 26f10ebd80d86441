/**
 * The example schema of the playground and the tests: the lists / todos tables of the
 * PowerSync to-do demo. Idempotent, so a restarted playground keeps its data.
 */
export const exampleSchemaSql = `
CREATE TABLE IF NOT EXISTS lists (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  name text NOT NULL,
  owner_id text
);
CREATE TABLE IF NOT EXISTS todos (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  description text NOT NULL,
  completed boolean NOT NULL DEFAULT false,
  created_by text,
  completed_by text,
  list_id uuid REFERENCES lists (id) ON DELETE CASCADE
);
`;

/** The matching `tables` section of the configuration. */
export const exampleTables = { lists: {}, todos: {} } as const;
