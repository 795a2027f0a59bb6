import { resolve } from 'node:path'
import { loadPolicyFile, openRemit, openSqliteStore } from '@remit/core'
import { optional } from '../optional.ts'
import { type Io, UsageError } from '../output.ts'

export interface SalesforcePackageOptions {
  out: string
  serverUrl: string
  policy: string
  agent: string[]
}

/** `remit salesforce package`: the source-format project admins deploy. */
export async function salesforcePackage(io: Io, o: SalesforcePackageOptions): Promise<number> {
  if (!/^https:\/\//.test(o.serverUrl))
    throw new UsageError('--server-url must be the https:// URL where Salesforce reaches Remit')
  const policy = await loadPolicyFile(o.policy)
  const agents = o.agent.length
    ? o.agent
    : [...policy.agents.values()]
        .filter((a) => a.tools.some((t) => t.startsWith('salesforce:')))
        .map((a) => a.id)
  if (!agents.length)
    throw new UsageError(
      'no agent to package: give --agent, or add a "salesforce:flow/<ApiName>" tool to an agent',
    )
  for (const a of agents)
    if (!policy.agents.has(a))
      throw new UsageError(`unknown agent "${a}"`, `agents: ${[...policy.agents.keys()].join(', ')}`)
  const { salesforceOpenApi, writePackage } = await optional(
    '@remit/salesforce',
    'remit salesforce package',
    () => import('@remit/salesforce'),
  )
  const remit = await openRemit({ policy, store: openSqliteStore(':memory:') })
  // An example check flow per `salesforce:flow/<Name>` tool, asking about the first action the
  // agent's team may take on its own (else the policy's first); the activity flows for the first agent.
  const checks = agents.flatMap((agent) => {
    const a = policy.agents.get(agent)
    const permitted = policy.rules.find(
      (r) => r.sort === 'permission' && a && (r.scope.teams?.has(a.team) ?? true) && r.scope.actions,
    )
    const kind = ([...(permitted?.scope.actions ?? [])][0] ?? [...policy.actions.keys()][0]) as string
    return (a?.tools ?? [])
      .filter((t) => t.startsWith('salesforce:flow/'))
      .map((t) => ({ agent, name: t.slice('salesforce:flow/'.length), kind }))
  })
  const files = await writePackage(o.out, {
    serverUrl: o.serverUrl,
    agents,
    spec: salesforceOpenApi(remit),
    flows: { checks, activityAgent: agents[0] as string },
  })
  await remit.close()
  io.out(`wrote ${files.length} files to ${resolve(o.out)} for ${agents.join(', ')}`)
  io.out(`next: remit salesforce deploy --dir ${o.out} --target-org <alias>`)
  return 0
}

export interface SalesforceDeployOptions {
  dir: string
  targetOrg: string
}

/** `remit salesforce deploy`: deploys with the user's `sf` login, then sets each agent's key. */
export async function salesforceDeploy(io: Io, o: SalesforceDeployOptions): Promise<number> {
  const { connectionFor, deployPackage, requireDeployLibraries, SalesforceError } = await optional(
    '@remit/salesforce',
    'remit salesforce deploy',
    () => import('@remit/salesforce'),
  )
  const fs = await import('node:fs/promises')
  const names = (await fs.readdir(resolve(o.dir, 'force-app/main/default/externalCredentials')).catch(() => {
    throw new UsageError(`${o.dir} is not a package from \`remit salesforce package\``)
  })) as string[]
  // The deploy libraries before the login: without them, SDK_MISSING and what to install, not NO_ORG.
  await requireDeployLibraries()
  // Keys come from the environment (REMIT_KEY_<AGENT>, e.g. REMIT_KEY_SALES_AGENT), never the command line.
  const keys: Record<string, string> = {}
  for (const file of names) {
    const agent = file.replace(/^Remit_/, '').replace(/\.externalCredential-meta\.xml$/, '')
    const env = `REMIT_KEY_${agent.toUpperCase()}`
    const key = process.env[env]
    if (key) keys[agent.replace(/_/g, '-')] = key
    else io.err(`note: ${env} is not set; set the key of Remit_${agent} in Setup → Named Credentials later`)
  }
  try {
    const connection = await connectionFor(o.targetOrg)
    const out = await deployPackage({ dir: o.dir, connection, org: o.targetOrg, keys })
    for (const c of out.components) io.out(`${c.state.padEnd(9)} ${c.type} ${c.fullName}`)
    for (const c of out.credentials) io.out(`key set   ExternalCredential ${c}`)
    io.out(
      'next: assign the permission set(s) to the flow\'s running user, then add the "Check with Remit" action to the flow',
    )
    return 0
  } catch (error) {
    if (error instanceof SalesforceError) {
      for (const c of (
        error as unknown as {
          components?: { state: string; type: string; fullName: string; problem?: string }[]
        }
      ).components ?? []) {
        io.out(`${c.state.padEnd(9)} ${c.type} ${c.fullName}${c.problem ? `: ${c.problem}` : ''}`)
      }
      // Printed with its code and hint (exit 3: the org, its login or Salesforce failed, not the input).
      throw error
    }
    throw error
  }
}
