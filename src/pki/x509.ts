// @peculiar/x509 resolves its ASN.1 converters through tsyringe, which needs reflect-metadata loaded first; and it
// signs through a WebCrypto provider, which we point at Node's. Every pki file imports the library through here.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
