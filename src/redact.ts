// URL credentials (`https://user:pass@host/`) never reach a message: configuration
// errors, doctor's lines and log lines all pass through here.

/**
 * A scheme, then everything up to the last `@` before whitespace, a quote or the end.
 * A password may hold a raw `/ ? # : @`, so where the host starts cannot be told for
 * sure; an `@` later in a path or query (an email) is hidden too, which is the safe side.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s"'`]*@/gi;

/** `text` with the login of every URL in it replaced by `***`. */
export const redactUrlCredentials = (text: string): string =>
  text.includes('@') ? text.replace(USERINFO, '$1***@') : text;

/**
 * One configured value, fit to repeat in a message: everything before its last `@`
 * (after the scheme, if any) replaced by `***`, even across whitespace, since a value
 * that fails to parse as a URL may still hold a password.
 */
export function redactLogin(value: string): string {
  const at = value.lastIndexOf('@');
  if (at === -1) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  return `${scheme}***${value.slice(at)}`;
}
