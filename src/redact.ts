// URL credentials (`https://user:pass@host/`) never reach a message: configuration
// errors, doctor's lines and log lines all pass through here.

/** A scheme, then everything up to the last `@` before the host ends (a password may hold `@`). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*(?:@[^\s/?#@"'<>]*)*@/gi;

/** `text` with the login of every URL in it replaced by `***`. */
export const redactUrlCredentials = (text: string): string =>
  text.includes('@') ? text.replace(USERINFO, '$1***@') : text;
