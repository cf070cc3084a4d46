import { z } from 'zod';
import { configSchema } from './schema.js';
import { envNameFor } from './env.js';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
}

/** Renders docs/configuration.md from the schema, so that the reference can never drift from the code. */
export function renderConfigurationDoc(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`. Do not edit by hand: CI fails when it is stale. -->',
    '',
    'gatehouse reads one configuration file (YAML or JSON, `--config FILE`), then environment overrides, then',
    'command-line flags. Every key has a default, so no file at all runs the platform on embedded defaults.',
    'An unknown key, a wrong type or an impossible value stops the start with a message naming the key, the value and',
    'what was expected.',
    '',
    'Environment overrides: `GATEHOUSE_` followed by the key path in UPPER_SNAKE case with `__` between levels,',
    'e.g. `GATEHOUSE_STORAGE__KIND=postgres`, `GATEHOUSE_HTTP__HEADERS_TIMEOUT=5s`. `GATEHOUSE_ROOT_KEY` is not a',
    'configuration key: it supplies the root key itself (see docs/threat-model.md); nor is `GATEHOUSE_CONFIG`, the',
    'file when `--config` is not given. Lists and objects are written as JSON, e.g.',
    '`GATEHOUSE_GATEWAY__TRUSTED_PROXIES=\'["10.0.0.0/8"]\'`. Every other `GATEHOUSE_*` variable must name a key: a',
    'misspelled one stops the start naming the variable, e.g. `config: unknown key listen.admn (from',
    'GATEHOUSE_LISTEN__ADMN__PORT)`.',
    '',
    'Durations are written as a number and a unit: `500ms`, `30s`, `15m`, `24h`, `30d`, `1y` (a bare number is milliseconds).',
    '',
  ];
  for (const [name, node] of Object.entries(root.properties ?? {})) {
    if (node.properties) {
      out.push(`## \`${name}\``, '', node.description ?? '', '');
      out.push('| key | type | default | environment | description |', '|---|---|---|---|---|');
      rows(name, node, out);
      out.push('');
    } else {
      out.push(`## \`${name}\``, '', '| key | type | default | environment | description |', '|---|---|---|---|---|');
      out.push(row(name, node));
      out.push('');
    }
  }
  return out.join('\n');
}

function rows(prefix: string, node: JsonSchemaNode, out: string[]): void {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const key = `${prefix}.${name}`;
    if (child.properties) rows(key, child, out);
    else out.push(row(key, child));
  }
}

function row(key: string, node: JsonSchemaNode): string {
  const def = node.default === undefined ? '(none)' : `\`${JSON.stringify(node.default)}\``;
  const desc = (node.description ?? '').replace(/\|/g, '\\|');
  return `| \`${key}\` | ${typeOf(node)} | ${def} | \`${envNameFor(key)}\` | ${desc} |`;
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  const types = node.type ?? node.anyOf?.map((n) => n.type).flat();
  const list = Array.isArray(types) ? types : [types];
  if (list.includes('string') && list.includes('number') && typeof node.default === 'string') return 'duration';
  let text = list.filter(Boolean).join(' \\| ');
  const min = node.minimum ?? node.exclusiveMinimum;
  const max = node.maximum ?? node.exclusiveMaximum;
  if (min !== undefined || max !== undefined) text += ` (${min ?? '…'} to ${max ?? '…'})`;
  return text || 'any';
}
