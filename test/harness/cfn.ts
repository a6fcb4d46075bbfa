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

interface TemplateLike {
  findResources(type: string): Record<string, unknown>;
}

/** The (first) state machine's definition, parsed. */
export function stateMachineDefinition<M>(template: TemplateLike): M {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as {
    Properties: { DefinitionString: unknown };
  }[];
  return JSON.parse(cfnText(machine?.Properties.DefinitionString)) as M;
}

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The statements of the policies attached to the role whose logical id contains `role`, as text. */
export function roleStatements(
  template: TemplateLike,
  role: string,
): { sid: string; actions: string[]; resources: string[]; condition?: unknown }[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles.some((r) => r.Ref.includes(role)),
    )
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    )
    .map((s) => ({
      sid: s.Sid ?? '-',
      actions: ([] as string[]).concat(s.Action),
      resources: ([] as unknown[]).concat(s.Resource).map(cfnText),
      ...(s.Condition ? { condition: s.Condition } : {}),
    }));
}
