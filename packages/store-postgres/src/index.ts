export { openPostgresStore, type PostgresStoreOptions } from './postgres.ts'
