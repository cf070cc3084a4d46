/** Server-rendered device flow pages (RFC 8628): sign in, enter the code ("Confirm"), then "Allow" / "Deny". */
import { escapeHtml as e, hidden, layout } from './identity_pages_views.js';

/**
 * The device page's sign-in form (posts to /oauth2/device/login, then returns to the code form).
 *
 * @example
 * deviceLoginView({ csrf, userCode: 'WDJB-MJHT' });
 */
export function deviceLoginView(options: {
  csrf: string;
  userCode: string;
  username?: string;
  error?: string;
}): string {
  return layout(
    'Sign in to connect a device',
    `<h1>Sign in to connect a device</h1>
${options.error ? `<p class="error" role="alert">${e(options.error)}</p>` : ''}
<form method="post" action="/oauth2/device/login">
${hidden('csrf', options.csrf)}${hidden('user_code', options.userCode)}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64" value="${e(options.username ?? '')}" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024">
<div class="actions"><button type="submit">Sign in</button></div>
</form>`,
  );
}

/**
 * The code form: the `user_code` field and "Confirm".
 *
 * @example
 * deviceCodeView({ csrf, username: 'ada', userCode: '' });
 */
export function deviceCodeView(options: { csrf: string; username: string; userCode: string; error?: string }): string {
  return layout(
    'Connect a device',
    `<h1>Connect a device</h1>
<p>Signed in as <strong>${e(options.username)}</strong>. Enter the code your device shows.</p>
${options.error ? `<p class="error" role="alert">${e(options.error)}</p>` : ''}
<form method="post" action="/oauth2/device">
${hidden('csrf', options.csrf)}
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="${e(options.userCode)}" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required maxlength="64" autofocus>
<div class="actions"><button type="submit">Confirm</button></div>
</form>`,
  );
}

/**
 * The consent step for a device ("Allow" / "Deny"), scopes in the API registry's plain words.
 *
 * @example
 * deviceConsentView({ csrf, username, userCode, clientName, scopes });
 */
export function deviceConsentView(options: {
  csrf: string;
  username: string;
  userCode: string;
  clientName: string;
  scopes: Array<{ name: string; description: string }>;
}): string {
  const items = options.scopes
    .map((s) => `<li class="scope">${e(s.description)} <code>${e(s.name)}</code></li>`)
    .join('');
  return layout(
    `Allow ${options.clientName}?`,
    `<h1>Allow <strong>${e(options.clientName)}</strong> on your device to use your account?</h1>
<p>Signed in as <strong>${e(options.username)}</strong>. Code <strong class="user-code">${e(options.userCode)}</strong>. It asks to:</p>
<ul>${items || '<li class="scope">Know who you are</li>'}</ul>
<p><strong>Only allow if you started this yourself on a device you have with you, and it shows this code.</strong> If someone sent you this link or code, choose Deny.</p>
<form method="post" action="/oauth2/device/consent">
${hidden('csrf', options.csrf)}${hidden('user_code', options.userCode)}
<div class="actions"><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></div>
</form>`,
  );
}
