import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/** A replica table as the grants see it (the construct's ReplicaTableProps). */
export interface ReplicaGrantTarget {
  readonly tableName: string;
  readonly region: string;
  readonly account?: string;
  readonly roleArn?: string;
}

/**
 * `actions` on exactly the replica tables reached with the role's own identity (statement `sid`),
 * and sts:AssumeRole on exactly the roles of the others (which then get no table permission here).
 */
export function grantReplicaAccess(
  role: iam.Role,
  replicas: readonly ReplicaGrantTarget[],
  statement: { readonly sid: string; readonly actions: string[] },
): void {
  const direct = replicas.filter((r) => r.roleArn === undefined);
  if (direct.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: statement.sid,
        actions: statement.actions,
        resources: direct.map((r) =>
          Stack.of(role).formatArn({
            service: 'dynamodb',
            region: r.region,
            ...(r.account ? { account: r.account } : {}),
            resource: 'table',
            resourceName: r.tableName,
          }),
        ),
      }),
    );
  }
  const roles = [...new Set(replicas.flatMap((r) => r.roleArn ?? []))];
  if (roles.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'AssumeReplicaRoles', actions: ['sts:AssumeRole'], resources: roles }),
    );
  }
}
