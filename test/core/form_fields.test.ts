import { describe, expect, it } from 'vitest';
import { formFields } from '../../src/core/index.js';

const reference = (body: string) => [...new URLSearchParams(body)];

describe('formFields', () => {
  it('yields exactly what URLSearchParams yields, on well-formed and malformed bodies alike', () => {
    const bodies = [
      '',
      '&',
      '&&a=1&&',
      'grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite',
      'a',
      'a=',
      '=b',
      '=',
      'a=b=c',
      'a+b=c+d',
      'a%2Bb=%2B%20%26%3D',
      'name=O%27Brien&x=%E2%82%AC%F0%9F%98%80',
      'bad=%zz&ok=1',
      'bad=%&ok=1',
      'bad=%E2%82&ok=1',
      'bad=%C0%80',
      'raw=€😀',
      'lone=\uD800x',
      'lone=x\uDC00',
      'resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example',
      `token=${'eyJ'.repeat(300)}.x-y_z&token_type_hint=access_token`,
    ];
    for (const body of bodies) expect(formFields(body), body).toEqual(reference(body));
  });

  it('agrees with URLSearchParams on random strings over the form alphabet', () => {
    const alphabet = ['a', 'b', '=', '&', '+', '%', '2', 'B', 'E', '8', 'z', '€', '\uD83D', '\uDE00', ' '];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      let body = '';
      const length = next() % 24;
      for (let j = 0; j < length; j++) body += alphabet[next() % alphabet.length];
      expect(formFields(body), JSON.stringify(body)).toEqual(reference(body));
    }
  });
});
