// A real HTTP server on loopback that plays an upstream (SpyCloud, a JWKS host)
// for the demo, the tests and the bench: routes by path, records every request.
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
  /** Every request received, oldest first; callers may empty it. */
  seen: Seen[];
  server: Server;
  /** Replace or add the handler for an exact (encoded) path, or for a path prefix ending in `*`. */
  route: (path: string, handler: Handler) => void;
  close: () => Promise<void>;
}

export interface StandInOptions {
  /** Every answer starts this long after its request arrived (default 0: at once). */
  latencyMs?: number;
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1: loopback only. */
  host?: string;
  /** Answers what no route matches (default: 599); routes, added before or after, always win. */
  fallback?: Handler;
}

/** A JSON answer with its length declared, as SpyCloud's API gateway sends them. */
export const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Handler => (_req, res) => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
};

/** The exact route of `path`, else the first prefix route (`…/*`) it starts with. */
function find(table: ReadonlyMap<string, Handler>, path: string): Handler | undefined {
  const exact = table.get(path);
  if (exact !== undefined) return exact;
  for (const [pattern, handler] of table) {
    if (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1))) return handler;
  }
  return undefined;
}

/** Off every route: a 599, a status no real upstream uses, so a test sees at once what it forgot. */
const offRoute: Handler = json({ message: 'no such route in the stand-in' }, 599);

export async function startStandIn(routes: Record<string, Handler> = {}, options: StandInOptions = {}): Promise<StandIn> {
  const table = new Map(Object.entries(routes));
  const seen: Seen[] = [];
  const latencyMs = options.latencyMs ?? 0;
  const fallback = options.fallback ?? offRoute;
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const entry: Seen = { method: req.method ?? '', url, path: url.split('?')[0] ?? '', headers: req.headers };
    seen.push(entry);
    const answer = () => {
      const handler = find(table, entry.path) ?? fallback;
      void Promise.resolve(handler(req, res, entry)).catch(() => res.destroy());
    };
    // Even a 0 ms timer waits for the next turn of the loop: answer at once instead.
    if (latencyMs === 0) answer();
    else setTimeout(answer, latencyMs);
  });
  server.keepAliveTimeout = 60_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `http://${hostPort}`,
    host: hostPort,
    seen,
    server,
    route: (path, handler) => {
      table.set(path, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
