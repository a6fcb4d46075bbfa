/**
 * CloudFormation values as readable text, for template assertions: a Ref is `{Id}`, a GetAtt
 * `{Id.Attr}`, a Join its parts joined, a Select `{select}`; a literal stays itself. A JSON document
 * built with Fn::Join (a dashboard body, a state machine definition) reads back with JSON.parse.
 */
export function cfnText(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(cfnText).join(sep);
  }
  if (v.Ref) return `{${String(v.Ref)}}`;
  if (v['Fn::GetAtt']) return `{${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if (v['Fn::Select']) return '{select}';
  return JSON.stringify(value);
}
