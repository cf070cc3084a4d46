/** A browser session, stored server-side; the cookie holds only its random id (the store keys it by SHA-256). */
export interface BrowserSession {
  /** The signed-in user's account key (usernameKey), or null before sign-in. */
  account: string | null;
  username: string | null;
  /** The user's generation at sign-in (a password change or disable ends the session). */
  generation: number;
  /** When the person last typed their password (ms), or null. */
  authTime: number | null;
  /** The CSRF token every form of this session carries. */
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

/** The cookie of browser sessions: `__Host-` prefix (Secure, Path=/, no Domain: host-only). */
export const SESSION_COOKIE = '__Host-gatehouse-session';

/**
 * The Set-Cookie value of a session id: HttpOnly, Secure, SameSite=Lax, host-only, Path=/.
 *
 * @example
 * reply.header('set-cookie', sessionCookie(id, 3600));
 */
export function sessionCookie(id: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Lax`;
}

/**
 * Reads the session id from a Cookie header (the first well-formed value of our cookie), or undefined.
 *
 * @example
 * sessionIdFromCookie(request.headers.cookie);
 */
export function sessionIdFromCookie(header: string | undefined): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    const value = rest.join('=');
    if (name === SESSION_COOKIE && /^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return undefined;
}
