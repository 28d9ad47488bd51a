// A catalog's `site` (free text from SpyCloud) → the URL of its external
// reference and the host of its `Leaked_From` relation (RELAY.md §6), each only
// when it makes sense: XDR refuses a document with a broken URL.
import { isHostName } from '../observe.js';

const SCHEME = /^https?:\/\//i;
/** Characters a URI may hold as they are (RFC 3986): such a site is kept verbatim. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

function parsed(site: string): URL | undefined {
  if (site === '' || site === 'n/a') return undefined;
  try {
    const url = new URL(SCHEME.test(site) ? site : `https://${site}`);
    return url.hostname === '' ? undefined : url;
  } catch {
    return undefined;
  }
}

/**
 * The site itself when it starts with http:// or https://, else `https://` + site;
 * only when that parses as an absolute https URL (with odd characters, in the
 * parser's encoded form): a plain-http page is no reference to send an analyst to.
 */
export function siteUrl(site: unknown): string | undefined {
  if (typeof site !== 'string') return undefined;
  const url = parsed(site);
  if (url === undefined || url.protocol !== 'https:') return undefined;
  const text = SCHEME.test(site) ? site : `https://${site}`;
  return URI_CHARACTERS.test(text) ? text : url.href;
}

/** The host name of the site, when it is one (not an IP address, not a path). */
export function siteHost(site: unknown): string | undefined {
  if (typeof site !== 'string') return undefined;
  const host = parsed(site)?.hostname;
  return host !== undefined && isHostName(host) ? host : undefined;
}
