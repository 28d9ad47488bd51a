// The one error type that crosses layers, and the one place errors become
// the contract's envelope (RELAY.md §2, §3, §4.4).

export type ErrorType = 'fatal' | 'warning';

export interface ErrorDoc {
  type: ErrorType;
  code: string;
  message: string;
}

export class RelayError extends Error {
  readonly code: string;
  readonly type: ErrorType;
  /** HTTP status of the relay's answer; the contract answers 200 unless stated. */
  readonly status: number;

  constructor(code: string, message: string, options: { type?: ErrorType; status?: number } = {}) {
    super(message);
    this.name = 'RelayError';
    this.code = code;
    this.type = options.type ?? 'fatal';
    this.status = options.status ?? 200;
  }

  toDoc(): ErrorDoc {
    return { type: this.type, code: this.code, message: this.message };
  }
}

export const authError = (text: string): RelayError =>
  new RelayError('authorization error', `Authorization failed: ${text}`);

export const invalidPayload = (details: string, status = 200): RelayError =>
  new RelayError('invalid argument', `Invalid JSON payload received. ${details}`, { status });

/** Anything that is not a RelayError is a bug: never show its text or stack to a client. */
export const toRelayError = (error: unknown): RelayError =>
  error instanceof RelayError ? error : new RelayError('unknown', 'The relay failed unexpectedly.', { status: 500 });

export interface Envelope {
  data?: unknown;
  errors?: ErrorDoc[];
}

/** `{"data": ...}`, `{"errors": [...]}` or both; `data` is left out when an error answer has none. */
export function envelope(data: Record<string, unknown> | undefined, errors: ErrorDoc[]): Envelope {
  const body: Envelope = {};
  if (data !== undefined && (errors.length === 0 || Object.keys(data).length > 0)) body.data = data;
  if (errors.length > 0) body.errors = errors;
  return body;
}
