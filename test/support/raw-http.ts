// One HTTP/1.1 request written by hand on a fresh socket (TCP or TLS), for what
// fetch cannot send: a request-target in absolute form (`POST https://host/path`).
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The body of a `Transfer-Encoding: chunked` message. */
function unchunk(raw: string): string {
  let body = '';
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, end), 16);
    if (!(size > 0)) return body;
    body += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}

/**
 * Sends `POST <target> HTTP/1.1` with `headers` (Host included as given) to the relay at
 * `url` (http:// or https://; `ca` trusts a test certificate), and reads the answer to the end.
 */
export function rawPost(url: string, target: string, headers: Record<string, string>, ca?: string): Promise<RawAnswer> {
  const { hostname, port, protocol } = new URL(url);
  const lines = [`POST ${target} HTTP/1.1`, ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`), 'Content-Length: 0', 'Connection: close', '', ''];
  return new Promise((resolve, reject) => {
    const socket: Socket = protocol === 'https:'
      ? connectTls({ host: hostname, port: Number(port), ca, servername: 'localhost' })
      : connectTcp(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.once(protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(lines.join('\r\n')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const answerHeaders = Object.fromEntries(headerLines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      }));
      const raw = text.slice(split + 4);
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers: answerHeaders,
        body: answerHeaders['transfer-encoding'] === 'chunked' ? unchunk(raw) : raw,
      });
    });
  });
}
