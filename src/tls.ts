// The relay's own certificate and key (TLS_CERT_FILE/TLS_KEY_FILE), read and checked
// at start by the server and by `doctor`, so that doctor fails exactly when the relay
// would not start, with the same message.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './config.js';

function readTlsFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(variable, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}): ${path}`);
  }
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The certificate and key, checked one by one so that a bad file is named
 * (OpenSSL's own text says `no start line` or `key values mismatch`, and no file).
 */
export function tlsCredentials(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readTlsFile('TLS_CERT_FILE', certFile);
  const key = readTlsFile('TLS_KEY_FILE', keyFile);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError('TLS_CERT_FILE', `holds no PEM certificate (${reason(error)}): ${certFile}`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new ConfigError('TLS_KEY_FILE', `holds no PEM private key, or one locked with a passphrase (${reason(error)}): ${keyFile}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError('TLS_KEY_FILE', `is not the key of the certificate in TLS_CERT_FILE (key values mismatch): ${keyFile}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError('TLS_CERT_FILE', `and TLS_KEY_FILE are refused by OpenSSL (${reason(error)}): ${certFile}, ${keyFile}`);
  }
  return { cert, key };
}
