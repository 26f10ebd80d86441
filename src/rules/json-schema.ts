import { Ajv, type ValidateFunction } from 'ajv';
import type { DataValidator } from './table-rules.ts';

/**
 * A table's `json_schema` as a validator of entry data. A PATCH carries only the changed
 * columns, so it is checked against the same schema without its `required` list.
 */
export function jsonSchemaValidator(table: string, schema: Record<string, unknown>): DataValidator {
  const ajv = new Ajv({ allErrors: true, strict: false });
  let full: ValidateFunction;
  let partial: ValidateFunction;
  try {
    full = ajv.compile(schema);
    const { required: _required, ...withoutRequired } = schema;
    partial = ajv.compile(withoutRequired);
  } catch (error) {
    throw new Error(`tables.${table}.json_schema: ${(error as Error).message}`);
  }
  return (data, isPartial) => {
    const validate = isPartial ? partial : full;
    if (validate(data)) return [];
    return (validate.errors ?? []).map((e) => `${table}${e.instancePath.replaceAll('/', '.') || ''} ${e.message ?? 'is invalid'}`.trim());
  };
}
