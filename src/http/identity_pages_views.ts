/** Server-rendered sign-in pages: no script, one small same-origin stylesheet, accessible labels, phone-sized. */

/** The stylesheet's path (served by identity_pages.ts). */
export const SIGN_IN_CSS_PATH = '/oauth2/assets/sign-in.css';

/** The one stylesheet: system fonts, clear type, large touch targets, visible focus. */
export const SIGN_IN_CSS = `*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f4f5f7}
body{margin:0;padding:1rem;display:flex;justify-content:center}
main{width:100%;max-width:26rem;margin-top:8vh;background:#fff;border:1px solid #d8dce1;border-radius:.5rem;padding:1.5rem}
h1{font-size:1.35rem;margin:0 0 1rem}
h2{font-size:1.05rem;margin:1.25rem 0 .5rem}
li+li{margin-top:.75rem}
p,ul{margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #8a939e;border-radius:.35rem}
.check{display:flex;gap:.5rem;align-items:center;font-weight:400}
.actions{display:flex;gap:.75rem;margin-top:1.25rem;flex-wrap:wrap}
form+p{margin-top:1.25rem}
button{font:inherit;font-weight:600;min-height:2.75rem;padding:.55rem 1.2rem;border-radius:.35rem;border:1px solid #1b5fc1;background:#1b5fc1;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1b5fc1}
:focus-visible{outline:3px solid #f0b429;outline-offset:2px}
.error{border-left:4px solid #c62828;background:#fdecea;padding:.5rem .75rem}
.scope{margin:.25rem 0}.scope code{font-size:.85em;color:#57606a}.user-code{white-space:nowrap}
@media (prefers-color-scheme:dark){html{background:#111418;color:#e6e8eb}main{background:#1b1f24;border-color:#30363d}input[type=text],input[type=password]{background:#0d1117;color:inherit}button.secondary{background:transparent}.error{background:#3b1213}}
`;

/**
 * Escapes text for HTML element content and double-quoted attribute values.
 *
 * @example
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;

/**
 * The page frame every sign-in page shares (title, viewport, our stylesheet).
 *
 * @example
 * layout('Sign in', '<h1>Sign in</h1>');
 */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${e(title)}</title><link rel="stylesheet" href="${SIGN_IN_CSS_PATH}"></head>
<body><main>${body}</main></body></html>`;
}

/**
 * A hidden form field, escaped.
 *
 * @example
 * hidden('csrf', token);
 */
export const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${name}" value="${e(value)}">`;

/** The sign-in page ("Sign in"). */
export function loginView(options: {
  query: string;
  csrf: string;
  clientName?: string;
  loginHint?: string;
  error?: string;
}): string {
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
${options.clientName ? `<p>to continue to <strong>${e(options.clientName)}</strong></p>` : ''}
${options.error ? `<p class="error" role="alert">${e(options.error)}</p>` : ''}
<form method="post" action="/oauth2/authorize/login">
${hidden('csrf', options.csrf)}${hidden('query', options.query)}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64" value="${e(options.loginHint ?? '')}" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024">
<div class="actions"><button type="submit">Sign in</button></div>
</form>`,
  );
}

/** The consent page ("Allow" / "Deny"), scopes in the API registry's plain words. */
export function consentView(options: {
  query: string;
  csrf: string;
  clientName: string;
  username: string;
  scopes: Array<{ name: string; description: string }>;
}): string {
  const items = options.scopes
    .map((s) => `<li class="scope">${e(s.description)} <code>${e(s.name)}</code></li>`)
    .join('');
  return layout(
    `Allow ${options.clientName}?`,
    `<h1>Allow <strong>${e(options.clientName)}</strong> to use your account?</h1>
<p>Signed in as <strong>${e(options.username)}</strong>. ${e(options.clientName)} asks to:</p>
<ul>${items || '<li class="scope">Know who you are</li>'}</ul>
<form method="post" action="/oauth2/authorize/consent">
${hidden('csrf', options.csrf)}${hidden('query', options.query)}
<label class="check"><input type="checkbox" name="remember" value="yes" checked> Remember this choice</label>
<div class="actions"><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></div>
</form>
<p><a href="/oauth2/account">Manage what you have allowed</a></p>`,
  );
}

/** A plain message page: errors, success, signed out. */
export function messageView(title: string, message: string, role: 'alert' | 'status' = 'status'): string {
  return layout(title, `<h1>${e(title)}</h1><p role="${role}">${e(message)}</p>`);
}

/** The sign-out confirmation page (`query`: an RP-initiated logout request, carried to the POST). */
export function logoutView(options: { csrf: string; username: string; query?: string }): string {
  return layout(
    'Sign out',
    `<h1>Sign out</h1><p>Signed in as <strong>${e(options.username)}</strong>.</p>
<form method="post" action="/oauth2/logout">${hidden('csrf', options.csrf)}${options.query ? hidden('query', options.query) : ''}
<div class="actions"><button type="submit">Sign out</button></div></form>`,
  );
}

/** A duration in words for people, in its largest whole unit: `14 days`, `10 minutes`, `90 seconds`. */
function inWords(ms: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ];
  for (const [name, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  }
  return `${Math.max(1, Math.round(ms / 1000))} seconds`;
}

/** The account page: each app the person allowed (scopes per API) or that stays connected, with "Revoke". */
export function accountView(options: {
  csrf: string;
  username: string;
  apps: Array<{
    clientId: string;
    clientName: string;
    allowed: Array<{ audience: string; scopes: string[] }>;
    connected: Array<{ audience: string; scopes: string[] }>;
  }>;
  /** How long a connected app may go unused before it is disconnected (the refresh tokens' idle limit). */
  unusedLimitMs: number;
}): string {
  const words = (apis: Array<{ audience: string; scopes: string[] }>) =>
    apis
      .map((a) => ({ ...a, scopes: a.scopes.filter((s) => s !== 'offline_access') }))
      .map((a) => (a.scopes.length === 0 ? a.audience : `${a.scopes.join(', ')} at ${a.audience}`))
      .join('; ');
  const rows = options.apps
    .map((app) => {
      const allowed =
        app.allowed.length > 0 ? words(app.allowed) : app.connected.length > 0 ? words(app.connected) : '';
      const what = allowed === '' ? 'nothing yet (you are asked again)' : allowed;
      const stays =
        app.connected.length > 0
          ? `<br>It stays connected while you are away, until you revoke it or it goes unused for ${e(inWords(options.unusedLimitMs))}.`
          : '';
      return `<li><strong>${e(app.clientName)}</strong>: ${e(what)}${stays}
<form method="post" action="/oauth2/account/revoke">${hidden('csrf', options.csrf)}${hidden('client_id', app.clientId)}
<button type="submit" class="secondary">Revoke</button></form></li>`;
    })
    .join('');
  return layout(
    'Your account',
    `<h1>Your account</h1><p>Signed in as <strong>${e(options.username)}</strong>.</p>
<h2>Apps you have allowed</h2>${rows ? `<ul>${rows}</ul>` : '<p>None.</p>'}
<p>Revoking an app signs it out: its refresh tokens and the access tokens issued with them stop working.</p>
<p><a href="/oauth2/logout">Sign out</a></p>`,
  );
}
