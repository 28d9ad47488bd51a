// `Authorization: Bearer <token>` → token (RELAY.md §3, header parsing, both modes).
import { authError } from '../errors.js';

export function bearerToken(header: string | undefined): string {
  if (header === undefined) throw authError('Authorization header is missing');
  const match = /^(\S+)\s+(\S+)\s*$/.exec(header.trim());
  if (match === null || match[1]?.toLowerCase() !== 'bearer') throw authError('Wrong authorization type');
  return match[2] as string;
}
