/**
 * A small YAML writer for CloudFormation templates (JSON values only: objects, arrays, strings,
 * numbers, booleans, null). Block style with two-space indents; every string is written
 * double-quoted with JSON escapes, which YAML 1.2 reads the same way, so no string can turn into a
 * number, boolean or date. Intrinsic functions stay in their long form (`Fn::GetAtt:`).
 */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*(::[A-Za-z0-9_.-]+)*$/;
const RESERVED = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

function key(k: string): string {
  return PLAIN_KEY.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k);
}

function scalar(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`toYaml: ${value} has no YAML form in a template`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  throw new TypeError(`toYaml: cannot write a ${typeof value}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function block(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    return value.flatMap((item: unknown) => {
      const lines = block(item, indent + '  ');
      // The first line of the item sits right after the dash.
      const first = (lines[0] as string).slice(indent.length + 2);
      return [`${indent}- ${first}`, ...lines.slice(1)];
    });
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    return entries.flatMap(([k, v]) => {
      if ((Array.isArray(v) && v.length > 0) || (isObject(v) && Object.keys(v).length > 0))
        return [`${indent}${key(k)}:`, ...block(v, indent + '  ')];
      return [`${indent}${key(k)}: ${block(v, '')[0] as string}`];
    });
  }
  return [`${indent}${scalar(value)}`];
}

export function toYaml(value: unknown): string {
  return block(value, '').join('\n') + '\n';
}
