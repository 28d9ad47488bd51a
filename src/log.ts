// Structured JSON logs (RELAY.md §8). Request lines are built from known-safe
// fields only; the redaction list is a second line of defence for anything else,
// and no line leaves with a URL's login in it (an error may quote a proxy URL).
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { redactUrlCredentials } from './redact.js';

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'spycloud-xdr-relay' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: stdSerializers.err },
    redact: {
      paths: ['authorization', 'headers.authorization', '*.authorization', 'token', 'apiKey', 'key', 'password', '*.password'],
      censor: '[redacted]',
    },
    hooks: { streamWrite: redactUrlCredentials },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
