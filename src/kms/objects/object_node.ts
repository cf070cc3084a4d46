import { GatehouseError, isGatehouseError } from '../../core/index.js';
import type { ObjectRecord } from './object_info.js';

/**
 * What a read of an object's file that failed means on this node. A file missing here of an object another node
 * wrote (replicas share the metadata in PostgreSQL, but each keeps object files on its own disk) is
 * ERR_OBJECT_ON_OTHER_NODE naming that node and what to do; any other failure is returned as it is.
 *
 * @example
 * try { return await files.openRead(bucket, rec.value.fileName); } catch (err) { throw fileReadError(err, rec.value, node); }
 */
export function fileReadError(err: unknown, record: ObjectRecord, node: string | undefined): unknown {
  const missing = isGatehouseError(err, 'ERR_OBJECT_NOT_FOUND') || (err as NodeJS.ErrnoException).code === 'ENOENT';
  if (!missing || node === undefined || record.node === undefined || record.node === node) return err;
  return new GatehouseError('ERR_OBJECT_ON_OTHER_NODE', {
    message:
      `Object ${record.bucket}/${record.key} was written on node ${record.node} and its file is not on this node ` +
      `(${node}): replicas share object metadata but keep object files on their own disks. Send object requests ` +
      'and backups to the node that wrote them (keep the object store on one node); see docs/operations.md, ' +
      '"Objects on replicas"',
    cause: err,
  });
}
