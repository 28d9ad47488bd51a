// Which Lambda events are HTTP requests the relay can answer: API Gateway REST
// API (payload v1), HTTP API and Function URL (payload v2). Anything else (a
// `null` event, a test event, missing fields, odd types, a body that is not the
// base64 it claims to be) is refused here with the contract's `invalid argument`
// error, before Hono's adapter would throw or answer in plain text.
import type { LambdaEvent } from 'hono/aws-lambda';
import { invalidPayload, type RelayError } from './errors.js';

type Fields = Record<string, unknown>;

const refuse = (what: string): RelayError =>
  invalidPayload(`The Lambda event is not an HTTP request from API Gateway or a Function URL: ${what}.`, 400);

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const absent = (value: unknown) => value === undefined || value === null;

/** An HTTP method token that fetch's Request accepts. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const HEADER_NAME = METHOD;
/** No CR, LF or NUL: what the Headers class refuses in a value. */
const HEADER_VALUE = /^[^\r\n\0]*$/;
/** Forgiving base64 (what atob accepts): ASCII white space is skipped, padding optional. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

function method(value: unknown): void {
  if (typeof value !== 'string' || !METHOD.test(value) || FORBIDDEN_METHODS.has(value.toUpperCase())) throw refuse('no usable HTTP method');
}

function path(value: unknown): void {
  if (typeof value !== 'string' || !value.startsWith('/')) throw refuse('no path starting with /');
}

/** `{name: value}`, where each value passes `valid` (null and undefined are skipped, as the adapter does). */
function map(value: unknown, field: string, valid: (entry: unknown) => boolean, validName: (name: string) => boolean = () => true): void {
  if (absent(value)) return;
  if (!isObject(value)) throw refuse(`${field} is not an object`);
  for (const [name, entry] of Object.entries(value)) {
    if (!validName(name)) throw refuse(`${field} has a name that cannot be sent`);
    if (!absent(entry) && !valid(entry)) throw refuse(`${field} has a value that is not a string, or cannot be sent`);
  }
}

const headerName = (name: string) => HEADER_NAME.test(name);

const headerValue = (value: unknown) => typeof value === 'string' && HEADER_VALUE.test(value);
const text = (value: unknown) => typeof value === 'string';
const list = (valid: (entry: unknown) => boolean) => (value: unknown) => Array.isArray(value) && value.every(valid);

function body(event: Fields): void {
  if (!absent(event.isBase64Encoded) && typeof event.isBase64Encoded !== 'boolean') throw refuse('isBase64Encoded is not true or false');
  if (absent(event.body)) return;
  if (typeof event.body !== 'string') throw refuse('the body is not a string');
  if (event.isBase64Encoded === true && !BASE64.test(event.body.replace(/[\t\n\f\r ]/g, ''))) throw refuse('the body is not valid base64');
}

/** The host the request URL is built on: requestContext.domainName, else the Host header. */
function host(event: Fields, context: Fields | undefined, path: string): void {
  const headers = isObject(event.headers) ? event.headers : {};
  const header = Object.entries(headers).find(([name]) => name.toLowerCase() === 'host')?.[1];
  const domain = context?.domainName ?? header;
  if (absent(domain)) return;
  if (typeof domain !== 'string' || !URL.canParse(`https://${domain}${path}`)) throw refuse('its domain name is not a host');
}

/** `event` as the adapter may take it, or the contract's `invalid argument` error (HTTP 400). */
export function httpEvent(event: unknown): LambdaEvent {
  if (!isObject(event)) throw refuse(event === null ? 'the event is null' : `the event is ${Array.isArray(event) ? 'a list' : `of type ${typeof event}`}`);
  const context = event.requestContext;
  if (!absent(context) && !isObject(context)) throw refuse('requestContext is not an object');
  if (isObject(context) && !absent(context.stage) && typeof context.stage !== 'string') throw refuse('requestContext.stage is not a string');
  const http = isObject(context) ? context.http : undefined;
  if ('rawPath' in event || !absent(http)) {
    // Payload v2: HTTP API and Function URLs.
    if (!isObject(http)) throw refuse('requestContext.http is missing');
    method(http.method);
    path(event.rawPath);
    if (!absent(event.rawQueryString) && typeof event.rawQueryString !== 'string') throw refuse('rawQueryString is not a string');
    if (!absent(event.cookies) && !list(headerValue)(event.cookies)) throw refuse('cookies is not a list of strings');
    map(event.headers, 'headers', headerValue, headerName);
  } else {
    // Payload v1: REST API.
    method(event.httpMethod);
    path(event.path);
    map(event.headers, 'headers', headerValue, headerName);
    map(event.multiValueHeaders, 'multiValueHeaders', list(headerValue), headerName);
    map(event.queryStringParameters, 'queryStringParameters', text);
    map(event.multiValueQueryStringParameters, 'multiValueQueryStringParameters', list(text));
  }
  host(event, isObject(context) ? context : undefined, String(event.rawPath ?? event.path));
  body(event);
  return event as unknown as LambdaEvent;
}
