import { parseBytes } from './byte-sizes.ts';
import { formatDuration, parseDurationSeconds } from './durations.ts';
import { type RawSettings, SETTINGS, type SettingName, settingLabel } from './settings.ts';

/** Reads settings by name, each by its kind's rule, and collects every problem (named by its setting, never with a secret's value). */
export class SettingReader {
  readonly problems: string[] = [];
  private readonly raw: RawSettings;

  constructor(raw: RawSettings) {
    this.raw = raw;
  }

  /** The setting, trimmed; its default when unset or empty. */
  value(name: SettingName): string | undefined {
    const v = this.raw[name]?.trim();
    if (v !== undefined && v !== '') return v;
    return 'default' in SETTINGS[name] ? (SETTINGS[name] as { default: string }).default : undefined;
  }

  readonly problem = (name: SettingName, text: string): void => {
    this.problems.push(`${settingLabel(name)} ${text}`);
  };

  required(name: SettingName, needed: boolean | undefined): string {
    const v = this.value(name);
    if (needed && v === undefined) this.problem(name, 'is required');
    return v ?? '';
  }

  url(name: SettingName, protocols: string[]): string | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    if (!isUrl(v, protocols)) this.problem(name, `is not a valid ${protocols.join(' or ')} URL`);
    return v;
  }

  integer(name: SettingName, min: number, max: number): number {
    const v = this.value(name) ?? '';
    const n = /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!(n >= min && n <= max))
      this.problem(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  }

  duration(name: SettingName, maxSeconds: number): number {
    const v = this.value(name) ?? '';
    const seconds = parseDurationSeconds(v);
    if (seconds === undefined)
      this.problem(name, `must be a positive duration such as 604800, 7d, 36h or 15m, got ${JSON.stringify(v)}`);
    else if (seconds > maxSeconds)
      this.problem(name, `must be at most ${formatDuration(maxSeconds)} (${maxSeconds} s), got ${JSON.stringify(v)}`);
    return seconds ?? 0;
  }

  bytes(name: SettingName): number {
    const v = this.value(name) ?? '';
    const n = parseBytes(v);
    if (n === undefined)
      this.problem(name, `must be a size such as 1073741824, 500MB or 5GiB, got ${JSON.stringify(v)}`);
    return n ?? 0;
  }

  boolean(name: SettingName): boolean {
    const v = (this.value(name) ?? '').toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    this.problem(name, `must be true or false, got ${JSON.stringify(v)}`);
    return false;
  }
}

export function isUrl(text: string, protocols: string[]): boolean {
  try {
    const u = new URL(text);
    return protocols.includes(u.protocol.replace(/:$/, '')) && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * A postgres:// URL as libpq and node-postgres read it: with a host, or with none and a
 * socket directory in ?host= (postgres://user@/db?host=/run/postgresql), which the URL
 * standard does not parse.
 */
export function isPostgresUrl(text: string): boolean {
  if (isUrl(text, ['postgres', 'postgresql'])) return true;
  const socket = /^postgres(?:ql)?:\/\/(?:[^/?#@]*@)?\/[^?#]*\?([^#]*)$/.exec(text);
  return socket !== null && (new URLSearchParams(socket[1]).get('host') ?? '').startsWith('/');
}

/** The password in a postgres:// URL (either form), decoded, or undefined. */
export function postgresPassword(text: string): string | undefined {
  const userinfo = /^postgres(?:ql)?:\/\/([^/?#@]*)@/.exec(text)?.[1];
  const password = userinfo?.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : undefined;
  try {
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return password;
  }
}
