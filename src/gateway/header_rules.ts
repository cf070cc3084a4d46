import type { OutgoingHttpHeaders } from 'node:http';
import type { RouteConfig } from './gateway_config.js';

/** The `headers` block of a route. */
export type HeaderRulesConfig = RouteConfig['headers'];

/**
 * A route's header rules (Envoy's `request_headers_to_add`/`_remove` and `response_headers_to_add`/`_remove`, Kong's
 * request- and response-transformer, nginx's `proxy_set_header`, `proxy_hide_header` and `add_header`): names to
 * remove, then fields to set (replacing any copy), on the request sent upstream and on the upstream's answer (proxied
 * or served from the cache). Fields the gateway manages itself are refused by the schema. Built once per
 * configuration generation.
 *
 * @example
 * const rules = HeaderRules.of(route.headers);
 * rules?.onRequest(headers);
 */
export class HeaderRules {
  private constructor(
    private readonly requestRemove: readonly string[],
    private readonly requestSet: readonly [string, string][],
    private readonly responseRemove: readonly string[],
    private readonly responseSet: readonly [string, string][],
  ) {}

  /** The rules of a route, or undefined when it has none. */
  static of(config: HeaderRulesConfig): HeaderRules | undefined {
    const { request, response } = config;
    const lower = (names: string[]) => names.map((n) => n.toLowerCase());
    const pairs = (fields: Record<string, string>) =>
      Object.entries(fields).map(([name, value]) => [name.toLowerCase(), value] as [string, string]);
    const rules = new HeaderRules(
      lower(request.remove),
      pairs(request.set),
      lower(response.remove),
      pairs(response.set),
    );
    return rules.empty ? undefined : rules;
  }

  private get empty(): boolean {
    return (
      this.requestRemove.length + this.requestSet.length + this.responseRemove.length + this.responseSet.length === 0
    );
  }

  /** Applies the request rules to the fields sent upstream. */
  onRequest(out: Record<string, string>): void {
    for (const name of this.requestRemove) delete out[name];
    for (const [name, value] of this.requestSet) out[name] = value;
  }

  /** Applies the response rules to the fields of an upstream's answer, before the gateway adds its own. */
  onResponse(out: OutgoingHttpHeaders): void {
    for (const name of this.responseRemove) delete out[name];
    for (const [name, value] of this.responseSet) out[name] = value;
  }
}
