/**
 * Session credentials from an assumed role (STS AssumeRole), for DynamoDB clients that write to a
 * table in another account. The STS call is this adapter's: its failures are translated like every
 * DynamoDB call's (sdk-errors.ts), naming STS, the role and the region.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { ServiceError } from '../core/errors.js';
import { networkClientConfig } from '../core/network.js';
import type { ClientCredentials } from './client.js';
import { withSdkErrors } from './sdk-errors.js';

/** Renew session credentials this long before they expire. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
const SESSION_SECONDS = 3600;

interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/**
 * A credentials provider that assumes `roleArn` with STS (using `base` credentials, or the default
 * chain) and renews the session shortly before it expires.
 */
export function assumeRoleCredentials(
  roleArn: string,
  options: {
    region: string;
    base?: { readonly accessKeyId: string; readonly secretAccessKey: string };
    sessionName?: string;
  },
): ClientCredentials {
  const sts = new STSClient({
    ...networkClientConfig(),
    region: options.region,
    ...(options.base ? { credentials: options.base } : {}),
  });
  const session = {
    roleArn,
    region: options.region,
    sessionName: options.sessionName ?? 'dynamodb-replicator',
  };
  let current: SessionCredentials | undefined;
  let pending: Promise<SessionCredentials> | undefined;
  return async () => {
    if (current && current.expiration.getTime() - Date.now() > REFRESH_MARGIN_MS) return current;
    pending ??= assumeRole(sts, session).finally(() => (pending = undefined));
    current = await pending;
    return current;
  };
}

/** One AssumeRole call; ServiceError when STS answers without a complete set of credentials. */
async function assumeRole(
  sts: STSClient,
  o: { roleArn: string; region: string; sessionName: string },
): Promise<SessionCredentials> {
  const context = { service: 'STS', action: `AssumeRole ${o.roleArn}`, location: `region ${o.region}` };
  const out = await withSdkErrors(context, () =>
    sts.send(
      new AssumeRoleCommand({
        RoleArn: o.roleArn,
        RoleSessionName: o.sessionName,
        DurationSeconds: SESSION_SECONDS,
      }),
    ),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw new ServiceError(`STS AssumeRole ${o.roleArn} returned no credentials`);
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  };
}
