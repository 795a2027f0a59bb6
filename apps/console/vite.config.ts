import { defineConfig } from 'vite'

// Served by @remit/server at /console/ (see ServerOptions.consoleDir).
export default defineConfig({
  base: '/console/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
})
