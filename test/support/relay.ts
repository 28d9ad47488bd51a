// Starts the relay on a real port for a test, with its logs captured in memory.
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { RelayOptions } from '../../src/relay.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestRelay extends RunningServer {
  config: Config;
  /** Every log line the relay wrote, raw. */
  logs: string[];
  post: (path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any; headers: Headers }>;
}

export async function startRelay(env: Record<string, string>, options: RelayOptions = {}): Promise<TestRelay> {
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', ...env });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const running = await startServer(config, { logger: createLogger(config.logLevel, sink), ...options });
  const post = async (path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(running.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
  };
  return { ...running, config, logs, post };
}
