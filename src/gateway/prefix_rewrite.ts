/**
 * The request target sent upstream when a route has `prefixRewrite`: its matched `pathPrefix` replaced by the
 * rewrite, with exactly one `/` where the two join, the rest of the path and the query kept byte for byte. Both
 * inputs are normalized (the schema refuses others), so the result is too: no `//` and no dot segment appears.
 *
 * @example
 * rewritePrefix('/orders/42?x=1', '/orders', '/');  // '/42?x=1'
 * rewritePrefix('/orders', '/orders', '/v1');       // '/v1'
 * rewritePrefix('/orders/42', '/orders/', '/v1');   // '/v1/42'
 */
export function rewritePrefix(target: string, pathPrefix: string, rewrite: string): string {
  const rest = target.slice(pathPrefix.length);
  if (rest === '' || rest.charCodeAt(0) === 63 /* ? */) return rewrite + rest;
  const restSlash = rest.charCodeAt(0) === 47; /* / */
  const rewriteSlash = rewrite.charCodeAt(rewrite.length - 1) === 47;
  if (restSlash && rewriteSlash) return rewrite + rest.slice(1);
  if (!restSlash && !rewriteSlash) return `${rewrite}/${rest}`;
  return rewrite + rest;
}
