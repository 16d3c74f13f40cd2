/**
 * Columns that hold credentials (a password's hash, a token, a 2FA secret,
 * recovery codes), found two ways: by name, and by what their values look
 * like. `exporter init` omits them; `exporter check` refuses a definition
 * that exports one without saying why it is not secret (`not_secret`).
 * Values are looked at, never shown: no message carries one.
 */

/**
 * The words of a name that say credential, matched on the name made
 * snake_case and lower-case (`twoFactorBackupCodes` is two_factor_backup_codes):
 * pass_crypt, encrypted_password, password_digest, api_key, recovery_codes,
 * totp_secret, nonce, code_verifier, session_data, a public key's "key" too
 * (which notSecretBecause lets through).
 */
const SECRET_WORDS =
  /_(password|passwd|passphrase|pwd|pass|crypt|crypted|encrypted|digest|token|tokens|secret|secrets|salt|otp|totp|hotp|credential|credentials|apikey|nonce|pushkey|verifier|challenge|cookie|hash|hashed|hashes|key|keys|private_key|privkey)_|_(auth|authorization|recovery|backup|otp|verification|reset|confirmation|activation|login|mfa|sms)_codes?_|_security_(answer|question)s?_|_session_data_/;

/** A name as words: camelCase split, lower-case, anything else an underscore. */
function snake(name: string): string {
  return `_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')}_`;
}

/** Whether a column's name says it holds a credential. */
export function secretLookingName(name: string): boolean {
  return SECRET_WORDS.test(snake(name));
}

/**
 * Why a name that looks secret is not one, where that is sure from the name
 * and type alone: a yes-or-no flag (totp_2fa_enabled, has_password) is not
 * the secret it names, and a public key is published by design.
 */
export function notSecretByName(name: string, type: string): string | undefined {
  if (type === 'boolean') return 'a yes-or-no setting, not the secret it names';
  const words = snake(name);
  if (/_public_?key_/.test(words) && !/_(private|secret|password|token|salt|hash)_/.test(words))
    return 'a public key, published by design';
  return undefined;
}

/** Formats of password hashes (bcrypt, argon2, scrypt, PBKDF2, sha-crypt, md5-crypt, yescrypt, Django's, phpass, Werkzeug's) and JSON web tokens. */
const HASH_OR_TOKEN = [
  /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/,
  /^\$argon2(id|i|d)\$/,
  /^\$(scrypt|7|y|gy|[156])\$/,
  /^\$pbkdf2(-sha\d+)?\$/,
  /^(pbkdf2_sha\d+|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|sha1|md5|unsalted_md5|unsalted_sha1|crypt|scrypt)\$/,
  /^PBKDF2\$/,
  /^\$[PH]\$[./0-9A-Za-z]{31}$/,
  /^(pbkdf2|scrypt):sha\d+/,
  /^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/,
];

/** Long random text: 32 hex digits or more, or 24 base64 characters or more of mixed case with digits. */
function looksRandom(value: string): boolean {
  if (/^[0-9a-fA-F]{32,}$/.test(value)) return true;
  return (
    /^[A-Za-z0-9+/_-]{24,}={0,2}$/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && /[0-9]/.test(value)
  );
}

/**
 * Whether a column's values look like credentials: at least half of the
 * sample (of at least 3) is a password hash, a JWT, or long random text; with
 * fewer values, each is a hash or a token. One hostile value a user typed
 * into their profile never makes a column secret.
 */
export function secretLookingValues(values: readonly string[]): boolean {
  if (values.length === 0) return false;
  const hashOrToken = values.filter((v) => HASH_OR_TOKEN.some((p) => p.test(v))).length;
  if (values.length < 3) return hashOrToken === values.length;
  const random = values.filter((v) => HASH_OR_TOKEN.some((p) => p.test(v)) || looksRandom(v)).length;
  return random * 2 >= values.length;
}

/**
 * Whether a JSON value holds a credential: a string that looks like a
 * password hash or a JSON web token, or a key named like a credential with a
 * text of its own (`{"api_token": "…"}`; a key named only "key" when its text
 * looks random). Read as text, so a value cut short is read as far as it goes.
 */
export function credentialInJson(text: string): boolean {
  let key: string | undefined;
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"(\s*:)?/g)) {
    const value = m[1]!;
    if (m[2]) {
      key = value;
      continue;
    }
    if (HASH_OR_TOKEN.some((p) => p.test(value))) return true;
    if (key !== undefined && value.trim() !== '' && secretLookingName(key)) {
      const onlyKey = !secretLookingName(snake(key).replaceAll(/_keys?_/g, '_'));
      if (!onlyKey || looksRandom(value)) return true;
    }
    key = undefined;
  }
  return false;
}

/**
 * Whether a JSON column's values hold credentials: `strict` (what init
 * drafts) when any sampled value does; otherwise (what check refuses) when
 * at least half do, so one value a user typed never fails a build.
 */
export function secretLookingJsonValues(values: readonly string[], strict: boolean): boolean {
  const holding = values.filter(credentialInJson).length;
  return strict ? holding > 0 : values.length > 0 && holding * 2 >= values.length;
}
