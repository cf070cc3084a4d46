import { describe, expect, it } from 'vitest';
import { checkContext } from '../../src/http/kms_request.js';
import { contextFromQuery } from '../../src/http/kms_stream_routes.js';
import { encodeContext } from '../../src/kms/index.js';
import { codeOf } from '../kms/keyring_fixture.js';

describe('encryption contexts from requests', () => {
  it('keep a __proto__ pair from the query string as a pair, so it is bound like any other', () => {
    const context = contextFromQuery({ context: ['__proto__=tenantA'] });
    expect(Object.keys(context)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(context, '__proto__')?.value).toBe('tenantA');
    expect(encodeContext(context).equals(encodeContext({}))).toBe(false);
    const two = contextFromQuery({ context: ['a=1', '__proto__=x'] });
    expect(Object.keys(two).sort()).toEqual(['__proto__', 'a']);
  });

  it('refuse a repeated __proto__ key like any repeated key', async () => {
    const code = await codeOf(
      Promise.resolve().then(() => contextFromQuery({ context: ['__proto__=a', '__proto__=b'] })),
    );
    expect(code).toBe('ERR_HTTP_BAD_REQUEST');
  });

  it('keep a __proto__ key of a JSON context object', () => {
    const context = checkContext(JSON.parse('{"__proto__":"x","a":"b"}'));
    expect(Object.keys(context).sort()).toEqual(['__proto__', 'a']);
    expect(encodeContext(context).equals(encodeContext({ a: 'b' }))).toBe(false);
  });
});
