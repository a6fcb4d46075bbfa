/**
 * Credentials written inside a URL (`http://user:PASS@host`, `user:PASS@host:port`) must never reach
 * a message, a log line or a stack trace. `redactUrls` replaces every userinfo part in a text with
 * `***`; the base error class applies it to every message, and the CLI and the loggers apply it to
 * everything else they print (SDK errors, log lines).
 */

export const REDACTED = '***';

// `scheme://userinfo@`: the authority ends at the first / ? # \ whitespace or quote, and its userinfo
// runs to the last @ before that end (as WHATWG URL parsing reads it).
const WITH_SCHEME = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#\\"'<>`@]*(?:@[^\s/?#\\"'<>`@]*)*@/gi;
// `user:password@host` without a scheme (a location written as host:port/table).
const WITHOUT_SCHEME = /(^|[\s"'(=[,;])[^\s/:@"'<>`]+:[^\s/@"'<>`]*@(?=[^\s@])/g;

/** `text` with the userinfo of every URL in it replaced by `***`. */
export function redactUrls(text: string): string {
  if (!text.includes('@')) return text;
  return text
    .replace(WITH_SCHEME, (_m, scheme: string) => `${scheme}${REDACTED}@`)
    .replace(WITHOUT_SCHEME, (_m, lead: string) => `${lead}${REDACTED}@`);
}
