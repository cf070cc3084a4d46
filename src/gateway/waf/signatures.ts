/**
 * Signature families of the WAF, checked on decoded parameters. They target injection *contexts* (a quote or
 * comment breaking out of a literal, a tautology, UNION SELECT, stacked statements, time functions; markup that runs
 * script) rather than SQL or HTML words, so names like O'Brien and prose like "select a plan" pass. docs/waf.md lists
 * them with the corpus results.
 */

const SQLI: readonly RegExp[] = [
  /['"`)]\s*(?:or|and|xor|\|\||&&)\s*(?:not\s+)?[\w'"(@]+\s*(?:=|<>|!=|<|>|like\b|between\b|is\b|in\b|rlike\b|regexp\b)/,
  /['"`]\s*(?:or|and|\|\||&&)\s*['"(]?\w*['"]?\s*(?:--|#|$)/,
  /\b(?:or|and)\s+(\d+)\s*=\s*\1\b/,
  /\b(?:or|and)\s+(['"])(\w*)\1\s*=\s*\1\2\1/,
  /\bunion\b[\s(]+(?:all\s+|distinct\s+)?\(?\s*select\b/,
  /;\s*(?:drop|delete|insert|update|alter|create|truncate|exec|execute|shutdown|declare|grant|select)\b/,
  /\b(?:sleep|pg_sleep)\s*\(\s*[\d'"(@]|\bbenchmark\s*\(\s*\d|\bdbms_pipe\.receive_message\s*\(|\bwaitfor\s+delay\b/,
  /['"`]\s*(?:\|\||&)\s*\(?\s*select\b/,
  /['"`]\s*(?:--|#|\/\*)/,
  /['"`)]\s*(?:union|select|having|group\s+by|order\s+by|procedure\s+analyse)\b/,
  /\border\s+by\s+\d+\s*(?:--|#|\/\*)/,
  /\binformation_schema\b|\bsysobjects\b|\bsys\.tables\b|\bpg_catalog\b|\bsqlite_master\b|\bmysql\.user\b/,
  /\b(?:xp_cmdshell|sp_executesql|sp_oacreate|load_file|into\s+(?:out|dump)file|extractvalue|updatexml)\b/,
  /\b(?:char|chr|concat|concat_ws)\s*\(\s*(?:0x[0-9a-f]+|\d+\s*,)/,
  /\bselect\b[\s\S]{0,80}\bfrom\b[\s\S]{0,80}\b(?:where|limit)\b[\s\S]{0,40}(?:=|\blike\b)[\s\S]{0,40}(?:--|#|\/\*)/,
  /\bor\b\s+(?:true|false)\b\s*(?:--|#|\/\*|;|$)/,
  /^\s*\d+\s*(?:and|or)\s+\d+\s*[=<>]/,
];

const XSS: readonly RegExp[] = [
  /<\s*\/?\s*script\b/,
  /<[a-z][^>]*?[\s/"'`]on[a-z]{3,}\s*=/,
  /(?:java|vb|live)script\s*:\s*[\w$.]+\s*[([=.`]/,
  /data\s*:\s*text\/html/,
  /<\s*(?:iframe|frame|object|embed|applet|meta|base|svg|math|link|style|frameset|isindex|template)\b/,
  /\bsrcdoc\s*=|\bformaction\s*=|\bxlink:href\s*=/,
  /expression\s*\(|@import\b|-moz-binding\b/,
  /\bdocument\s*\.\s*(?:cookie|domain|write|location)\b|\bwindow\s*\.\s*location\b/,
  /\{\{[\s\S]*constructor[\s\S]*\}\}/,
  /<[a-z][^>]*\s(?:src|href|action|background)\s*=\s*['"]?\s*(?:javascript|vbscript|data)\s*:/,
];

const TRAVERSAL_PARAM: readonly RegExp[] = [
  /(?:\.\.[\\/]){2,}/,
  /^\s*\.\.[\\/][\w.-]+/,
  /\.\.[\\/]+(?:etc|windows|winnt|proc|boot|var|usr|root|home)\b/,
  /(?:^|[\\/])etc[\\/](?:passwd|shadow|group|hosts)\b|(?:^|[\\/])proc[\\/]self[\\/]/,
  /\b(?:win\.ini|boot\.ini|system32[\\/]|web\.config)\b/,
  /^(?:file|php|zip|phar|expect|gopher|dict):\/\//,
];

const SCANNERS =
  /\b(?:sqlmap|nikto|nmap|masscan|acunetix|nessus|openvas|w3af|dirbuster|gobuster|dirb|wpscan|zgrab|nuclei|havij|jaeles|fimap|whatweb|arachni|skipfish|zmeu|morfeus|netsparker|appscan|webinspect|commix|xsstrike|ffuf|feroxbuster|wfuzz|burp ?collaborator|fuzz faster u fool|paros|vega|grabber|pangolin|bsqlbf|brutus|hydra)\b/i;

// eslint-disable-next-line no-control-regex -- control characters are exactly what is stripped
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f]/g;

function normalize(value: string): string {
  return value
    .toLowerCase()
    .replace(/\+/g, ' ')
    .replace(/\/\*(?!!)[\s\S]*?\*\//g, ' ')
    .replace(CONTROL_CHARS, '')
    .replace(/\s+/g, ' ');
}

/**
 * Whether a decoded value carries an SQL injection.
 *
 * @example
 * looksLikeSqlInjection("' OR '1'='1"); // true
 * looksLikeSqlInjection("O'Brien"); // false
 */
export function looksLikeSqlInjection(value: string): boolean {
  const v = normalize(value);
  return SQLI.some((re) => re.test(v));
}

/**
 * A value that no XSS signature can match, whatever the normalization does, lacks all of these: every signature
 * needs `<`, `:`, `=`, `(`, `@`, `{` or `.` (the `document.`/`window.` ones), or the word `binding`; normalization
 * only removes comments (`*`) and control characters, turns `+` into a space, and the second pass squeezes
 * whitespace out (`bind ing`). Most request paths (`/orders/42`) skip the ten signatures and the normalization.
 */
// eslint-disable-next-line no-control-regex -- control characters are removed by normalize, so they may hide a match
const XSS_CANDIDATE = /[<:=(@{.*\u0000-\u001f]|b[\s+]*i[\s+]*n[\s+]*d[\s+]*i[\s+]*n[\s+]*g/i;

/**
 * Whether a decoded value carries markup or a URL that runs script.
 *
 * @example
 * looksLikeXss('<img src=x onerror=alert(1)>'); // true
 */
export function looksLikeXss(value: string): boolean {
  if (!XSS_CANDIDATE.test(value)) return false;
  const v = normalize(value).replace(/[\t\n\r]/g, '');
  if (XSS.some((re) => re.test(v))) return true;
  // Again with the whitespace squeezed out (`java script:`), only when there is some: otherwise it is the same text.
  return v.includes(' ') && XSS.some((re) => re.test(v.replace(/\s+/g, '')));
}

/**
 * Whether a decoded parameter value walks out of a directory or names a well-known system file.
 *
 * @example
 * looksLikeTraversal('../../etc/passwd'); // true
 */
export function looksLikeTraversal(value: string): boolean {
  const v = value.toLowerCase();
  return TRAVERSAL_PARAM.some((re) => re.test(v));
}

/**
 * Whether a decoded path has a `..` segment (`/`, `\` or `;` separated), the IIS/Tomcat forms included.
 *
 * @example
 * pathTraverses('/static/..%2f..%2fetc/passwd'); // true after decoding
 */
export function pathTraverses(decodedPath: string): boolean {
  return /(?:^|[\\/])\.\.(?:[\\/;]|$)/.test(decodedPath) || /(?:^|[\\/])\.\.\.*[\\/]/.test(decodedPath);
}

/**
 * Whether a User-Agent names a known vulnerability scanner.
 *
 * @example
 * isScannerAgent('sqlmap/1.7.2#stable (https://sqlmap.org)'); // true
 */
export function isScannerAgent(userAgent: string): boolean {
  return SCANNERS.test(userAgent);
}
