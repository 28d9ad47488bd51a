// RELAY.md §7: every variable's default and parsing, and a bad value stops the
// relay with a message naming the variable (ConfigError).
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_JWKS_HOSTS, loadConfig } from '../src/config.js';
import { xdrAccess } from '../src/sync/config.js';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('defaults', () => {
  it('an empty environment gives every documented default', () => {
    expect(loadConfig({})).toEqual({
      port: 9090,
      host: '0.0.0.0',
      spycloudApiUrl: 'https://api.spycloud.io/enterprise-v2',
      jwksUrlTemplate: 'https://{host}/.well-known/jwks',
      jwksAllowedHosts: ['visibility.amp.cisco.com', 'visibility.eu.amp.cisco.com', 'visibility.apjc.amp.cisco.com'],
      relayPublicUrl: undefined,
      trustProxy: false,
      secretKey: undefined,
      entitiesLimit: 100,
      passwordDisplay: 'masked',
      spycloudTimeoutMs: 10_000,
      spycloudRetryBaseMs: 3_000,
      spycloudMaxPages: 10,
      spycloudMaxConcurrency: 32,
      requestBudgetMs: 25_000,
      catalogCacheTtlS: 3_600,
      maxSightingsPerAnswer: 5_000,
      spycloudMaxBufferedBytes: 256 * 1024 * 1024,
      spycloudMaxConnections: 256,
      tilesCacheTtlS: 300,
      tilesMaxPages: 20,
      metricsEnabled: true,
      metricsPort: 9464,
      logLevel: 'info',
      tlsCertFile: undefined,
      tlsKeyFile: undefined,
      httpProxy: undefined,
      httpsProxy: undefined,
      noProxy: undefined,
    });
    expect(DEFAULT_JWKS_HOSTS).toEqual(loadConfig({}).jwksAllowedHosts);
  });

  it('empty and blank values count as unset', () => {
    const blank = Object.fromEntries(
      ['PORT', 'HOST', 'SPYCLOUD_API_URL', 'JWKS_ALLOWED_HOSTS', 'SECRET_KEY', 'CTR_ENTITIES_LIMIT', 'PASSWORD_DISPLAY', 'LOG_LEVEL', 'HTTPS_PROXY', 'NO_PROXY', 'TLS_CERT_FILE', 'TLS_KEY_FILE']
        .map((name) => [name, name === 'SECRET_KEY' ? '' : '  ']),
    );
    expect(loadConfig(blank)).toEqual(loadConfig({}));
  });
});

describe('values', () => {
  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8443',
      HOST: '127.0.0.1',
      SPYCLOUD_API_URL: 'http://127.0.0.1:8088/',
      JWKS_URL_TEMPLATE: 'http://{host}/keys',
      JWKS_ALLOWED_HOSTS: ' Visibility.AMP.cisco.com , 127.0.0.1:9000,[::1]:9001',
      RELAY_PUBLIC_URL: 'https://relay.example.com/',
      TRUST_PROXY: 'TRUE',
      SECRET_KEY: 's'.repeat(32),
      CTR_ENTITIES_LIMIT: '25',
      PASSWORD_DISPLAY: 'hidden',
      SPYCLOUD_TIMEOUT_MS: '2000',
      SPYCLOUD_RETRY_BASE_MS: '0',
      SPYCLOUD_MAX_PAGES: '3',
      SPYCLOUD_MAX_CONCURRENCY: '2',
      REQUEST_BUDGET_MS: '5000',
      CATALOG_CACHE_TTL_S: '0',
      MAX_SIGHTINGS_PER_ANSWER: '700',
      SPYCLOUD_MAX_BUFFERED_MB: '16',
      SPYCLOUD_MAX_CONNECTIONS: '32',
      TILES_CACHE_TTL_S: '0',
      TILES_MAX_PAGES: '3',
      METRICS_ENABLED: 'false',
      METRICS_PORT: '9100',
      LOG_LEVEL: 'WARN',
      TLS_CERT_FILE: '/tls/cert.pem',
      TLS_KEY_FILE: '/tls/key.pem',
      HTTP_PROXY: 'http://proxy.corp.example:3128',
      HTTPS_PROXY: 'http://user:p%40ss@proxy.corp.example:3129',
      NO_PROXY: 'localhost,.internal.example',
    });
    expect(config).toEqual({
      port: 8443,
      host: '127.0.0.1',
      spycloudApiUrl: 'http://127.0.0.1:8088',
      jwksUrlTemplate: 'http://{host}/keys',
      jwksAllowedHosts: ['visibility.amp.cisco.com', '127.0.0.1:9000', '[::1]:9001'],
      relayPublicUrl: 'https://relay.example.com',
      trustProxy: true,
      secretKey: 's'.repeat(32),
      entitiesLimit: 25,
      passwordDisplay: 'hidden',
      spycloudTimeoutMs: 2_000,
      spycloudRetryBaseMs: 0,
      spycloudMaxPages: 3,
      spycloudMaxConcurrency: 2,
      requestBudgetMs: 5_000,
      catalogCacheTtlS: 0,
      maxSightingsPerAnswer: 700,
      spycloudMaxBufferedBytes: 16 * 1024 * 1024,
      spycloudMaxConnections: 32,
      tilesCacheTtlS: 0,
      tilesMaxPages: 3,
      metricsEnabled: false,
      metricsPort: 9100,
      logLevel: 'warn',
      tlsCertFile: '/tls/cert.pem',
      tlsKeyFile: '/tls/key.pem',
      httpProxy: 'http://proxy.corp.example:3128',
      httpsProxy: 'http://user:p%40ss@proxy.corp.example:3129',
      noProxy: 'localhost,.internal.example',
    });
  });

  it('PASSWORD_DISPLAY takes plaintext, masked or hidden, in any case', () => {
    for (const [raw, mode] of [['plaintext', 'plaintext'], ['masked', 'masked'], ['hidden', 'hidden'], [' Plaintext ', 'plaintext'], ['HIDDEN', 'hidden']]) {
      expect(loadConfig({ PASSWORD_DISPLAY: raw as string }).passwordDisplay).toBe(mode);
    }
  });

  it('TRUST_PROXY takes true/false, 1/0 and yes/no', () => {
    for (const yes of ['true', '1', 'yes', 'Yes']) expect(loadConfig({ TRUST_PROXY: yes }).trustProxy).toBe(true);
    for (const no of ['false', '0', 'no', 'NO']) expect(loadConfig({ TRUST_PROXY: no }).trustProxy).toBe(false);
  });

  it('a CTR_ENTITIES_LIMIT above 1000 is clamped to 1000, as a token claim is', () => {
    expect(loadConfig({ CTR_ENTITIES_LIMIT: '1000' }).entitiesLimit).toBe(1000);
    expect(loadConfig({ CTR_ENTITIES_LIMIT: '5000' }).entitiesLimit).toBe(1000);
  });

  it('a SECRET_KEY of exactly 32 characters switches to self-hosted mode', () => {
    expect(loadConfig({ SECRET_KEY: 'k'.repeat(32) }).secretKey).toBe('k'.repeat(32));
  });

  it('the lower-case proxy variables win over the upper-case ones, as in curl and undici', () => {
    const config = loadConfig({
      HTTP_PROXY: 'http://upper:1',
      http_proxy: 'http://lower:1',
      HTTPS_PROXY: 'http://upper:2',
      https_proxy: 'http://lower:2',
      NO_PROXY: 'upper.example',
      no_proxy: 'lower.example',
    });
    expect([config.httpProxy, config.httpsProxy, config.noProxy]).toEqual(['http://lower:1', 'http://lower:2', 'lower.example']);
  });

  it('METRICS_PORT may equal PORT when either picks a free port (0), or when metrics are off', () => {
    expect(loadConfig({ PORT: '0', METRICS_PORT: '0' })).toMatchObject({ port: 0, metricsPort: 0 });
    expect(loadConfig({ PORT: '9464', METRICS_ENABLED: 'false' })).toMatchObject({ port: 9464, metricsPort: 9464, metricsEnabled: false });
    expect(loadConfig({ PORT: '8080', METRICS_PORT: '0' }).metricsPort).toBe(0);
  });

  it('TLS_CERT_FILE and TLS_KEY_FILE come as a pair', () => {
    expect(loadConfig({ TLS_CERT_FILE: '/c.pem', TLS_KEY_FILE: '/k.pem' })).toMatchObject({ tlsCertFile: '/c.pem', tlsKeyFile: '/k.pem' });
    expect(refusal({ TLS_CERT_FILE: '/c.pem' })).toBe('Invalid configuration: TLS_KEY_FILE must be set together with its pair');
    expect(refusal({ TLS_KEY_FILE: '/k.pem' })).toBe('Invalid configuration: TLS_CERT_FILE must be set together with its pair');
  });
});

describe('a bad value stops the relay with a message naming the variable', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['PORT', 'http', /^Invalid configuration: PORT must be a whole number from 0 to 65535, got "http"$/],
    ['PORT', '65536', /^Invalid configuration: PORT /],
    ['PORT', '-1', /^Invalid configuration: PORT /],
    ['SECRET_KEY', 'too-short-secret', /^Invalid configuration: SECRET_KEY must be at least 32 characters long$/],
    ['SECRET_KEY', 'x'.repeat(31), /^Invalid configuration: SECRET_KEY /],
    ['CTR_ENTITIES_LIMIT', '0', /^Invalid configuration: CTR_ENTITIES_LIMIT must be a whole number of 1 or more, got "0"$/],
    ['CTR_ENTITIES_LIMIT', 'abc', /^Invalid configuration: CTR_ENTITIES_LIMIT .*got "abc"$/],
    ['CTR_ENTITIES_LIMIT', '-5', /^Invalid configuration: CTR_ENTITIES_LIMIT /],
    ['CTR_ENTITIES_LIMIT', '2.5', /^Invalid configuration: CTR_ENTITIES_LIMIT /],
    ['SPYCLOUD_TIMEOUT_MS', '0', /^Invalid configuration: SPYCLOUD_TIMEOUT_MS /],
    ['SPYCLOUD_RETRY_BASE_MS', 'soon', /^Invalid configuration: SPYCLOUD_RETRY_BASE_MS /],
    ['SPYCLOUD_MAX_PAGES', '0', /^Invalid configuration: SPYCLOUD_MAX_PAGES /],
    ['SPYCLOUD_MAX_CONCURRENCY', '0', /^Invalid configuration: SPYCLOUD_MAX_CONCURRENCY /],
    ['REQUEST_BUDGET_MS', '25s', /^Invalid configuration: REQUEST_BUDGET_MS /],
    ['CATALOG_CACHE_TTL_S', '1h', /^Invalid configuration: CATALOG_CACHE_TTL_S /],
    ['MAX_SIGHTINGS_PER_ANSWER', '0', /^Invalid configuration: MAX_SIGHTINGS_PER_ANSWER /],
    ['SPYCLOUD_MAX_BUFFERED_MB', '0', /^Invalid configuration: SPYCLOUD_MAX_BUFFERED_MB /],
    ['SPYCLOUD_MAX_CONNECTIONS', 'many', /^Invalid configuration: SPYCLOUD_MAX_CONNECTIONS /],
    ['TILES_CACHE_TTL_S', '5m', /^Invalid configuration: TILES_CACHE_TTL_S must be a whole number of 0 or more, got "5m"$/],
    ['TILES_MAX_PAGES', '0', /^Invalid configuration: TILES_MAX_PAGES must be a whole number of 1 or more, got "0"$/],
    ['TRUST_PROXY', 'maybe', /^Invalid configuration: TRUST_PROXY must be true or false, got "maybe"$/],
    ['PASSWORD_DISPLAY', 'clear', /^Invalid configuration: PASSWORD_DISPLAY must be one of plaintext, masked, hidden, got "clear"$/],
    ['PASSWORD_DISPLAY', 'none', /^Invalid configuration: PASSWORD_DISPLAY /],
    ['LOG_LEVEL', 'verbose', /^Invalid configuration: LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"$/],
    ['SPYCLOUD_API_URL', 'api.spycloud.io', /^Invalid configuration: SPYCLOUD_API_URL must be an http\(s\) URL/],
    ['SPYCLOUD_API_URL', 'ftp://api.spycloud.io', /^Invalid configuration: SPYCLOUD_API_URL /],
    ['JWKS_URL_TEMPLATE', 'https://visibility.amp.cisco.com/.well-known/jwks', /^Invalid configuration: JWKS_URL_TEMPLATE must contain \{host\}$/],
    ['RELAY_PUBLIC_URL', 'relay.example.com', /^Invalid configuration: RELAY_PUBLIC_URL /],
    ['METRICS_PORT', '65536', /^Invalid configuration: METRICS_PORT must be a whole number from 0 to 65535, got "65536"$/],
    ['METRICS_PORT', '9090', /^Invalid configuration: METRICS_PORT must differ from PORT \(both 9090\): \/metrics is served on a port of its own$/],
    ['JWKS_ALLOWED_HOSTS', 'https://visibility.amp.cisco.com',
      /^Invalid configuration: JWKS_ALLOWED_HOSTS entry "https:\/\/visibility.amp.cisco.com" is not a bare host\[:port\] \(no scheme, path or spaces\), e\.g\. visibility\.amp\.cisco\.com$/],
    ['JWKS_ALLOWED_HOSTS', 'visibility.amp.cisco.com/.well-known/jwks', /^Invalid configuration: JWKS_ALLOWED_HOSTS entry "visibility.amp.cisco.com\/.well-known\/jwks" is not a bare host/],
    ['JWKS_ALLOWED_HOSTS', 'visibility.amp.cisco.com visibility.eu.amp.cisco.com', /^Invalid configuration: JWKS_ALLOWED_HOSTS entry "visibility.amp.cisco.com visibility.eu.amp.cisco.com" is not/],
    ['JWKS_ALLOWED_HOSTS', 'visibility.amp.cisco.com,,visibility.eu.amp.cisco.com', /^Invalid configuration: JWKS_ALLOWED_HOSTS has an empty entry in "visibility.amp.cisco.com,,visibility.eu.amp.cisco.com": separate hosts with single commas$/],
    ['JWKS_ALLOWED_HOSTS', 'visibility.amp.cisco.com,', /^Invalid configuration: JWKS_ALLOWED_HOSTS has an empty entry/],
    ['JWKS_ALLOWED_HOSTS', 'keys.example.com:99999', /^Invalid configuration: JWKS_ALLOWED_HOSTS entry "keys.example.com:99999" is not/],
    ['JWKS_ALLOWED_HOSTS', '*.amp.cisco.com', /^Invalid configuration: JWKS_ALLOWED_HOSTS entry "\*.amp.cisco.com" is not/],
    ['HTTP_PROXY', 'proxy:3128', /^Invalid configuration: HTTP_PROXY must be an http\(s\) URL/],
    ['HTTPS_PROXY', 'ftp://proxy.example', /^Invalid configuration: HTTPS_PROXY /],
    ['https_proxy', 'not a url', /^Invalid configuration: https_proxy /],
  ];
  for (const [name, value, message] of cases) {
    it(`${name}=${value.length > 40 ? value.slice(0, 40) + '…' : value}`, () => {
      expect(refusal({ [name]: value })).toMatch(message);
    });
  }

  it('never repeats a proxy value, which may carry credentials', () => {
    const message = refusal({ HTTPS_PROXY: 'socks9://alice:hunter2@proxy.example' });
    expect(message).toMatch(/^Invalid configuration: HTTPS_PROXY /);
    expect(message).not.toContain('hunter2');
  });

  it('redacts the login of any URL it repeats', () => {
    const api = refusal({ SPYCLOUD_API_URL: 'ftp://alice:hunter2@api.spycloud.io/enterprise-v2' });
    expect(api).toBe('Invalid configuration: SPYCLOUD_API_URL must be an http(s) URL, got "ftp://***@api.spycloud.io/enterprise-v2"');
    const jwks = refusal({ JWKS_ALLOWED_HOSTS: 'https://bob:s3cr%40t@keys.example.com' });
    expect(jwks).toMatch(/^Invalid configuration: JWKS_ALLOWED_HOSTS entry "https:\/\/\*\*\*@keys.example.com" is not/);
    expect(jwks).not.toContain('s3cr');
  });

  it('repeats no part of a login, even one with a raw / ? # : or space in its password', () => {
    for (const [name, value, shown] of [
      ['SPYCLOUD_API_URL', 'http://user:p/ss@proxy.example:3128', 'http://***@proxy.example:3128'],
      ['RELAY_PUBLIC_URL', 'https://user:p?a#ss@relay.example', 'https://***@relay.example'],
      ['JWKS_URL_TEMPLATE', 'ftp://user:pa:ss/x@{host}/jwks', 'ftp://***@{host}/jwks'],
      ['SPYCLOUD_API_URL', 'http://user:pa ss@api.example:x', 'http://***@api.example:x'],
      ['JWKS_ALLOWED_HOSTS', 'bob:s3/cr#t@keys.example.com', '***@keys.example.com'],
    ] as const) {
      const message = refusal({ [name]: value });
      expect(message).toContain(`"${shown}"`);
      for (const secret of ['user', 'p/ss', 'p?a#ss', 'pa:ss', 'pa ss', 's3/cr#t']) expect(message).not.toContain(secret);
    }
  });

  it('the sync\'s XDR URLs, read by the same rule, repeat no login either', () => {
    for (const name of ['XDR_TOKEN_URL', 'XDR_INTEL_URL']) {
      let message = '';
      try {
        xdrAccess({ [name]: 'http://client:p/ss#1@xdr.example:99999' }, false);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe(`Invalid configuration: ${name} must be an http(s) URL, got "http://***@xdr.example:99999"`);
    }
  });

  it('never repeats the secret', () => {
    expect(refusal({ SECRET_KEY: 'short-but-secret' })).not.toContain('short-but-secret');
  });
});
