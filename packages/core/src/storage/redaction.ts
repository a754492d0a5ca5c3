/**
 * Keeps credentials out of messages. Storage errors quote what servers send back, and servers
 * echo request URLs, headers and tokens; every message a storage builds from such text goes
 * through a Redactor first.
 */

/** What replaces a removed secret. */
export const REDACTED = '<redacted>';

/** Query parameters and headers whose value is a credential, in any storage protocol we speak. */
const SECRET_PARAMETERS = [
  'delegation', // WebHDFS delegation token
  'token',
  'access_token',
  'sig', // Azure SAS
  'signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'awsaccesskeyid',
];

const PARAMETER_RE = new RegExp(`([?&;\\s"'(]|^)(${SECRET_PARAMETERS.join('|')})=[^&\\s"'<>,]+`, 'gi');
/** AWS access key ids (long-term AKIA, temporary ASIA, and the other principal prefixes). */
const AWS_KEY_ID_RE = /\b(AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA)[A-Z0-9]{12,}\b/g;
/** SigV4 Authorization header fragments: 'Credential=AKIA…/20260101/…, Signature=abc…'. */
const SIGV4_CREDENTIAL_RE = /(Credential=)[^,\s&"'<]+/gi;
const SIGV4_SIGNATURE_RE = /(Signature=)[0-9a-f]+/gi;
/** 'Authorization: …' and 'X-Amz-Security-Token: …' as a server might echo them. */
const HEADER_RE = /((?:Authorization|X-Amz-Security-Token)\s*[=:]\s*)[^\n"'<]+/gi;
/** 'scheme://user:password@host' */
const URL_USERINFO_RE = /([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi;

/**
 * Removes known secret values (raw and URL-encoded), credential-bearing query parameters and
 * headers, AWS key ids, SigV4 fragments and URL passwords from text.
 */
export class Redactor {
  /** Every form in which a secret may appear, longest first so no fragment of one survives. */
  private readonly forms: string[];

  /** Secrets shorter than 4 characters are ignored: removing them would shred ordinary text. */
  constructor(secrets: Iterable<string | undefined> = []) {
    const forms = new Set<string>();
    for (const s of secrets) {
      if (s === undefined || s.length < 4) continue;
      forms.add(s);
      forms.add(encodeURIComponent(s));
      forms.add(new URLSearchParams({ d: s }).toString().slice(2));
    }
    this.forms = [...forms].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    // Headers first: an echoed Authorization header is removed to the end of its line, whatever
    // it contains, before the other rules rewrite fragments of it.
    let out = text.replace(HEADER_RE, `$1${REDACTED}`);
    for (const form of this.forms) out = out.split(form).join(REDACTED);
    return out
      .replace(URL_USERINFO_RE, `$1${REDACTED}@`)
      .replace(PARAMETER_RE, `$1$2=${REDACTED}`)
      .replace(SIGV4_CREDENTIAL_RE, `$1${REDACTED}`)
      .replace(SIGV4_SIGNATURE_RE, `$1${REDACTED}`)
      .replace(AWS_KEY_ID_RE, REDACTED);
  }
}

/** One-off form of `new Redactor(secrets).redact(text)`. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined> = []): string {
  return new Redactor(secrets).redact(text);
}

/** Collapses white space and cuts text to `limit` characters, for server text quoted in messages. */
export function clipMessage(text: string, limit = 400): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > limit ? `${t.slice(0, limit)}...` : t;
}
