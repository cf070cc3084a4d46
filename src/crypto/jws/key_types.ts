import type { KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from './algorithms.js';

/** A private key pinned to one algorithm and named by `kid`. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly privateKey: KeyObject;
}

/** A public key pinned to one algorithm and named by `kid`: the only thing a signature is ever checked against. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly publicKey: KeyObject;
}
