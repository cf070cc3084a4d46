import { isGatehouseError } from '../../core/index.js';
import type { Envelopes } from '../envelope/index.js';
import type { Keyring } from '../keyring.js';
import type { ObjectCipher, ObjectContext, ObjectHeader } from './ports.js';

/**
 * The object store's cipher over the KMS: stream envelopes (segmented AEAD, 64 KiB segments by default) from
 * `Envelopes`, key versions and key creation from the `Keyring`.
 *
 * @example
 * const cipher = new EnvelopeObjectCipher(new Envelopes({ keys: keyring, clock }), keyring);
 */
export class EnvelopeObjectCipher implements ObjectCipher {
  constructor(
    private readonly envelopes: Envelopes,
    private readonly keyring: Keyring,
    private readonly segmentSize?: number,
  ) {}

  async encryptStream(keyName: string, context: ObjectContext): Promise<NodeJS.ReadWriteStream> {
    return this.envelopes.encryptStream(
      keyName,
      context,
      this.segmentSize === undefined ? {} : { segmentSize: this.segmentSize },
    );
  }

  decryptStream(context: ObjectContext): NodeJS.ReadWriteStream {
    return this.envelopes.decryptStream(context);
  }

  verifyStream(context: ObjectContext): NodeJS.WritableStream {
    return this.envelopes.verifyStream(context);
  }

  parseHeader(bytes: Buffer): ObjectHeader {
    const header = this.envelopes.parseHeader(bytes);
    return { length: header.headerLength, keyName: header.keyName, keyVersion: header.keyVersion };
  }

  rewrapHeader(headerBytes: Buffer, context: ObjectContext): Promise<Buffer> {
    return this.envelopes.rewrapHeader(headerBytes, context);
  }

  async currentVersion(keyName: string): Promise<number> {
    return (await this.keyring.getKey(keyName)).latestVersion;
  }

  async ensureKey(keyName: string): Promise<void> {
    try {
      await this.keyring.getKey(keyName);
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_KMS_KEY_NOT_FOUND')) throw err;
      try {
        await this.keyring.createKey(keyName);
      } catch (createErr) {
        if (!isGatehouseError(createErr, 'ERR_KMS_KEY_EXISTS')) throw createErr;
      }
    }
  }
}
