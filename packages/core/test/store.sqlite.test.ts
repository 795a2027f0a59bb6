import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqliteStore } from '../src/index.ts'
import { storeContract } from '../src/store/contract.ts'

storeContract('SQLite in memory', { open: async () => openSqliteStore(':memory:') })

const paths = new WeakMap<object, string>()
storeContract('SQLite file (WAL)', {
  open: async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'remit-store-')), 'remit.db')
    const store = openSqliteStore(path)
    paths.set(store, path)
    return store
  },
  // Reopening after close proves a resolved decide was committed to the file, not held in memory.
  reopen: async (store) => {
    const path = paths.get(store) as string
    await store.close()
    return openSqliteStore(path)
  },
})
