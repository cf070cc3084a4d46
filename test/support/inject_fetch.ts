import type { FastifyInstance } from 'fastify';

/**
 * A fetch that answers through fastify's inject (no sockets), for openid-client, oauth4webapi and jose: method, path
 * and query, headers and body are passed on; every request comes from `remoteAddress`.
 *
 * @example
 * const fetch = injectFetch(app);
 * const response = await fetch('https://id.test.example/.well-known/openid-configuration');
 */
export function injectFetch(app: FastifyInstance, remoteAddress = '203.0.113.10'): typeof globalThis.fetch {
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => (headers[k] = v));
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.text();
    const res = await app.inject({
      method: request.method as 'GET' | 'POST',
      url: url.pathname + url.search,
      headers,
      ...(body === undefined ? {} : { payload: body }),
      remoteAddress,
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, String(v));
    return new Response(res.statusCode === 204 ? null : res.body, { status: res.statusCode, headers: out });
  };
  return fetchImpl as typeof globalThis.fetch;
}
