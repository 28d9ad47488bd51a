// A real HTTP server on 127.0.0.1 that plays an upstream (SpyCloud, a JWKS host)
// for tests: routes by path, records every request it receives.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  /** The raw request target, exactly as it arrived (still percent-encoded). */
  url: string;
  /** The path with the query string cut off, still encoded. */
  path: string;
  headers: IncomingMessage['headers'];
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void | Promise<void>;

export interface StandIn {
  url: string;
  /** host:port, for jwks_host claims and allow-lists. */
  host: string;
  seen: Seen[];
  server: Server;
  /** Replace or add the handler for an exact (encoded) path, or for a path prefix ending in `*`. */
  route: (path: string, handler: Handler) => void;
  close: () => Promise<void>;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

export async function startStandIn(routes: Record<string, Handler> = {}): Promise<StandIn> {
  const table = new Map(Object.entries(routes));
  const seen: Seen[] = [];
  const find = (path: string): Handler | undefined => {
    const exact = table.get(path);
    if (exact !== undefined) return exact;
    for (const [pattern, handler] of table) {
      if (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1))) return handler;
    }
    return undefined;
  };
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const entry: Seen = { method: req.method ?? '', url, path: url.split('?')[0] ?? '', headers: req.headers };
    seen.push(entry);
    const handler = find(entry.path);
    if (handler === undefined) {
      json({ message: 'no such route in the stand-in' }, 599)(req, res, entry);
      return;
    }
    void Promise.resolve(handler(req, res, entry)).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    seen,
    server,
    route: (path, handler) => table.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
