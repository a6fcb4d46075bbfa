/**
 * Who a location is reached as, and in which region, resolved the way the AWS CLI and SDK resolve
 * them. Shared by the DynamoDB, Streams and S3 clients.
 *
 * - Credentials: a location's `profile` is read with the SDK's own `fromIni` (static keys, SSO,
 *   credential_process, role_arn + source_profile); a `role` is assumed with the SDK's
 *   `fromTemporaryCredentials` (ExternalId, session name, duration), with the profile (or the
 *   caller's base credentials, or the default chain) as the identity that assumes it. The clients
 *   renew session credentials REFRESH_MARGIN_MS before they expire.
 * - Region, when a location names none: AWS_REGION, then AWS_DEFAULT_REGION, then the `region` of
 *   the profile (the location's, else AWS_PROFILE, else `default`) in the shared config file.
 *
 * Failures are ConfigErrors naming the location and the cause; no secret ever enters a message.
 */
import { fromIni, fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { loadSharedConfigFiles } from '@smithy/core/config';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../core/errors.js';
import { isRegionName, type Identity } from '../core/location.js';

/** Credentials or a provider of them, as the SDK clients accept them. */
export type Credentials = NonNullable<DynamoDBClientConfig['credentials']>;
type AwsCredentialIdentityProvider = Extract<Credentials, (...args: never[]) => unknown>;

/** The SDK clients renew session credentials this long before they expire (@smithy/core EXPIRATION_MS). */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** Session name when a role location names none. */
export const DEFAULT_SESSION_NAME = 'dynamodb-replicator';

/** A region, or a provider of one resolved at the first request. */
export type RegionInput = string | (() => Promise<string>);

/** The identity as messages show it: `profile prod, role arn:...`; '' for the default chain. */
export function identityText(identity: Identity | undefined): string {
  const parts: string[] = [];
  if (identity?.profile !== undefined) parts.push(`profile ${identity.profile}`);
  if (identity?.role) parts.push(`role ${identity.role.arn}`);
  return parts.join(', ');
}

function causeText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}

/** Wraps a provider so its failures name the location and what was being resolved. */
function explained(
  provider: AwsCredentialIdentityProvider,
  what: string,
  label: string,
): AwsCredentialIdentityProvider {
  return async (properties) => {
    try {
      return await provider(properties);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`${label}: ${what} failed: ${causeText(error)}`, { cause: error });
    }
  };
}

/**
 * The credentials of a location's identity, or undefined when it has none (the caller then uses its
 * default). `base` is who assumes a role when the location has no profile (default: the SDK chain).
 */
export function identityCredentials(
  identity: Identity | undefined,
  options: { label: string; region: RegionInput; base?: Credentials; network?: object },
): Credentials | undefined {
  if (!identity) return undefined;
  const { label } = options;
  const profile = identity.profile;
  const fromProfile =
    profile === undefined
      ? undefined
      : explained(fromIni({ profile }), `reading credentials of profile "${profile}"`, label);
  const role = identity.role;
  if (!role) return fromProfile;
  const master = fromProfile ?? options.base ?? fromNodeProviderChain();
  return explained(
    fromTemporaryCredentials({
      params: {
        RoleArn: role.arn,
        RoleSessionName: role.sessionName ?? DEFAULT_SESSION_NAME,
        ...(role.externalId !== undefined ? { ExternalId: role.externalId } : {}),
        ...(role.durationSeconds !== undefined ? { DurationSeconds: role.durationSeconds } : {}),
      },
      masterCredentials: master,
      // The STS client gets the same deadlines as the location's own clients.
      clientConfig: { ...options.network, region: options.region },
    }),
    `assuming role ${role.arn}`,
    label,
  );
}

type Env = Readonly<Record<string, string | undefined>>;

function checked(name: string, region: string, label: string): string {
  if (!isRegionName(region))
    throw new ConfigError(`${label}: ${name} "${region}" is not a region name (e.g. us-east-1)`);
  return region;
}

/**
 * The region of a location that names none, as the AWS CLI finds it: AWS_REGION, AWS_DEFAULT_REGION,
 * then the profile's `region` in the shared config file; undefined when none is set.
 */
export async function defaultRegion(
  profile: string | undefined,
  label: string,
  env: Env = process.env,
): Promise<string | undefined> {
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const value = env[name]?.trim();
    if (value) return checked(name, value, label);
  }
  const name = profile ?? (env.AWS_PROFILE?.trim() || 'default');
  const files = await loadSharedConfigFiles({ ignoreCache: true });
  const fromFile = files.configFile[name]?.region ?? files.credentialsFile[name]?.region;
  return fromFile === undefined ? undefined : checked(`the region of profile "${name}"`, fromFile, label);
}

/**
 * A region provider for a location with no region, resolved once (the SDK asks for every request);
 * its error names all three sources.
 */
export function regionProvider(profile: string | undefined, label: string, fallback?: string) {
  let resolved: Promise<string> | undefined;
  const resolve = async (): Promise<string> => {
    const region = (await defaultRegion(profile, label)) ?? fallback;
    if (region !== undefined) return region;
    const name = profile ?? (process.env.AWS_PROFILE?.trim() || 'default');
    throw new ConfigError(
      `${label}: no region: set AWS_REGION or AWS_DEFAULT_REGION, or region in profile "${name}" ` +
        'of the shared config file (~/.aws/config), or name it in the location (e.g. us-east-1/users)',
    );
  };
  return (): Promise<string> => (resolved ??= resolve());
}
