import { formatTableLocation, parseTableLocation } from '../core/location.js';
import { createDynamoClient, type ClientOptions } from '../dynamodb/client.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openObjectStore, type OpenStoreOptions } from '../storage/open-store.js';
import { S3ObjectStore } from '../storage/s3-store.js';
import type { JobEnvironment, JobTable } from './kind.js';

/**
 * A JobEnvironment that opens each table and store location once and keeps it: one client per
 * location for all the slices a process runs. `close()` releases every client's sockets.
 */
export function cachedJobEnvironment(
  o: { readonly client?: ClientOptions; readonly store?: OpenStoreOptions } = {},
): JobEnvironment & { close(): void } {
  const tables = new Map<string, JobTable>();
  const stores = new Map<string, ObjectStore>();
  return {
    openTable(location) {
      let table = tables.get(location);
      if (!table) {
        const parsed = parseTableLocation(location);
        table = {
          client: createDynamoClient(parsed, o.client ?? {}),
          table: parsed.table,
          label: formatTableLocation(parsed),
        };
        tables.set(location, table);
      }
      return table;
    },
    openStore(location) {
      let store = stores.get(location);
      if (!store) {
        store = openObjectStore(location, o.store ?? {});
        stores.set(location, store);
      }
      return store;
    },
    close() {
      for (const t of tables.values()) t.client.destroy();
      for (const s of stores.values()) if (s instanceof S3ObjectStore) s.client.destroy();
      tables.clear();
      stores.clear();
    },
  };
}
