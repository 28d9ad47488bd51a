// How the passwords of breach records reach the analyst (RELAY.md §6): as SpyCloud
// gives them, masked (the default: enough to recognise a reused password, not to
// use it), or not at all. Chosen per tenant by a token claim, else by the Config.

export const PASSWORD_DISPLAYS = ['plaintext', 'masked', 'hidden'] as const;
export type PasswordDisplay = (typeof PASSWORD_DISPLAYS)[number];

export const DEFAULT_PASSWORD_DISPLAY: PasswordDisplay = 'masked';

/** A mode named in any case, with surrounding white space; undefined for anything else. */
export function passwordDisplayOf(value: unknown): PasswordDisplay | undefined {
  if (typeof value !== 'string') return undefined;
  const folded = value.trim().toLowerCase();
  return PASSWORD_DISPLAYS.find((mode) => mode === folded);
}

/** A column holding a password (in any case: SpyCloud's names vary), not its type. */
export function isPasswordColumn(name: string): boolean {
  const folded = name.toLowerCase();
  return folded.startsWith('password') && folded !== 'password_type';
}
