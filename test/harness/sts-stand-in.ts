/**
 * A stand-in for AWS STS's AssumeRole, for the cross-account replica path (ReplicaRoleArn). Nothing
 * local plays STS (DynamoDB Local and s3rver do not), so this answers AssumeRole in STS's query
 * protocol with session credentials of its own making, numbered per call, and records who called
 * with which role. The SDK reaches it through AWS_ENDPOINT_URL_STS. DynamoDB Local does not check
 * signatures; the fault proxy's `signedBy` shows which credentials signed each replica write.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { signerOf } from './fault-proxy.js';

export interface AssumeRoleCall {
  readonly roleArn: string;
  readonly sessionName: string;
  /** The ExternalId sent, '' when none. */
  readonly externalId: string;
  /** Seconds asked for, '' when the caller left the default. */
  readonly durationSeconds: string;
  /** Access key id that signed the AssumeRole request. */
  readonly signedBy: string;
}

export interface StsStandIn {
  readonly endpoint: string;
  readonly calls: readonly AssumeRoleCall[];
  /** Access key id handed out by call `n` (1-based). */
  accessKeyId(n: number): string;
}

/**
/**
 * Starts the stand-in; each session it hands out expires `lifetimeMs` after the call. With
 * `externalId`, a call with any other ExternalId (or none) is refused with AccessDenied, as a trust
 * policy with an `sts:ExternalId` condition refuses it; roles in `deny` are refused the same way,
 * as STS refuses a role the caller may not assume.
 */
export async function startStsStandIn(
  lifetimeMs: number,
  options: { externalId?: string; readonly deny?: readonly string[] } = {},
): Promise<StsStandIn> {
  const calls: AssumeRoleCall[] = [];
  const accessKeyId = (n: number) => `ASIASTANDIN${String(n).padStart(9, '0')}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (form.get('Action') !== 'AssumeRole') {
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Code>InvalidAction</Code><Message>only AssumeRole</Message></Error></ErrorResponse>',
        );
        return;
      }
      const externalId = form.get('ExternalId') ?? '';
      if (
        (options.externalId !== undefined && externalId !== options.externalId) ||
        options.deny?.includes(form.get('RoleArn') ?? '')
      ) {
        res.writeHead(403, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>denied</RequestId></ErrorResponse>',
        );
        return;
      }
      calls.push({
        roleArn: form.get('RoleArn') ?? '',
        sessionName: form.get('RoleSessionName') ?? '',
        externalId,
        durationSeconds: form.get('DurationSeconds') ?? '',
        signedBy: signerOf(req),
      });
      const n = calls.length;
      const expiration = new Date(Date.now() + lifetimeMs).toISOString();
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
          `<Credentials><AccessKeyId>${accessKeyId(n)}</AccessKeyId><SecretAccessKey>secret${n}</SecretAccessKey>` +
          `<SessionToken>token${n}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
          `<AssumedRoleUser><Arn>${form.get('RoleArn') ?? ''}/session</Arn><AssumedRoleId>AROA:${n}</AssumedRoleId></AssumedRoleUser>` +
          `</AssumeRoleResult><ResponseMetadata><RequestId>req-${n}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    accessKeyId,
  };
}
