// The dependency arrows of docs/architecture.md, enforced in CI (`npm run depcheck`).
// Each module may import only the modules listed for it (and itself). Nothing points back up.
const allowed = {
  core: [],
  config: ['core'],
  crypto: ['core', 'config'],
  kms: ['core', 'config', 'crypto'],
  ratelimit: ['core', 'config', 'crypto'],
  identity: ['core', 'config', 'crypto', 'kms', 'ratelimit'],
  pki: ['core', 'config', 'crypto', 'kms'],
  resource: ['core', 'config', 'crypto', 'ratelimit'],
  mesh: ['core', 'config', 'crypto', 'pki', 'resource', 'ratelimit'],
  gateway: ['core', 'config', 'crypto', 'resource', 'mesh', 'ratelimit'],
  adapters: ['core', 'config', 'crypto', 'kms', 'ratelimit', 'identity', 'pki', 'resource', 'mesh', 'gateway'],
  http: ['core', 'config', 'crypto', 'kms', 'ratelimit', 'identity', 'pki', 'resource', 'mesh', 'gateway'],
  cli: null, // anything
  app: null, // anything
};
const modules = Object.keys(allowed);

const forbidden = [
  {
    name: 'no-circular',
    severity: 'error',
    comment: 'Circular imports hide the layering.',
    from: { path: '^src/' },
    to: { circular: true },
  },
  {
    name: 'through-index-only',
    severity: 'error',
    comment: 'Import another module only through its index.ts, never its internals.',
    from: { path: '^src/([^/]+)/' },
    to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
  },
  {
    name: 'unknown-module',
    severity: 'error',
    comment: 'Every top-level folder of src/ must be a module listed in .dependency-cruiser.cjs.',
    from: { path: '^src/', pathNot: [`^src/(${modules.join('|')})/`, '^src/index\\.ts$'] },
    to: {},
  },
];
for (const [mod, list] of Object.entries(allowed)) {
  if (list === null) continue;
  const banned = modules.filter((m) => m !== mod && !list.includes(m));
  if (banned.length === 0) continue;
  forbidden.push({
    name: `arrows-${mod}`,
    severity: 'error',
    comment: `${mod} may import only: ${list.join(', ') || 'nothing internal'}`,
    from: { path: `^src/${mod}/` },
    to: { path: `^src/(${banned.join('|')})/` },
  });
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    exclude: { path: '\\.test\\.ts$' },
  },
};
