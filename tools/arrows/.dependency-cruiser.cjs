// The arrows between Remit's parts point inward: apps (server, CLI, console) use packages, never the
// reverse, and nothing imports itself back. Run by `./dev test` (turbo's lint task) from the root.
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes a module load half-initialised and ties its parts together for good.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-never-import-apps',
      comment:
        'A package (core, stores, client, adapters) is what apps are built from; it must not depend on one. Route descriptions and OpenAPI live in @remit/core/adapter for that reason.',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      // Resolved (apps/…/dist) or not yet built (the bare name).
      to: { path: '^(apps/|@remit/(server|cli|console)($|/))' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
}
