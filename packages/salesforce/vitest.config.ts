import { defineConfig } from 'vitest/config'
// Converting and validating the whole project (a 2.2 MB schema compiled to WebAssembly) takes ~3 s
// alone and far more with every package's tests on two cores: the limit guards against a hang only.

export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 } })
