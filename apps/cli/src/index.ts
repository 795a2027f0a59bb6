import { readFileSync } from 'node:fs'
import { closest } from '@remit/core/internal'
import { Command, CommanderError, Option } from 'commander'
import {
  candidateClear,
  candidateReportCommand,
  candidateSet,
  candidateShow,
  candidateSignOff,
  promoteCommand,
  rollbackCommand,
} from './commands/candidate.ts'
import { decide } from './commands/decide.ts'
import { explainCommand } from './commands/explain.ts'
import { hubspotRegister } from './commands/hubspot.ts'
import { keysNew } from './commands/keys.ts'
import { mcpGateway, mcpServe } from './commands/mcp.ts'
import { outboxList, outboxRetry } from './commands/outbox.ts'
import { policyTest } from './commands/policy-test.ts'
import { pruneCommand } from './commands/prune.ts'
import { replayCommand } from './commands/replay.ts'
import { salesforceDeploy, salesforcePackage } from './commands/salesforce.ts'
import { serve } from './commands/serve.ts'
import { suppressAdd, suppressLift, suppressList } from './commands/suppress.ts'
import { touchCommand } from './commands/touch.ts'
import { validate } from './commands/validate.ts'
import { EXIT, EXIT_HELP, type Io, printError, processIo } from './output.ts'

const collect = (value: string, previous: string[]) => [...previous, value]
/** `--store` of the commands that read or add to the store `remit serve` uses (never creating one). */
const servedStore = () =>
  new Option('--store <path|url>', 'the SQLite file or postgres://… remit serve uses').default('remit.db')

/** This package's version, from its package.json (one level above src/ and dist/ alike). */
function packageVersion(): string {
  return (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version
}

/** Runs `remit` with these arguments; resolves to the exit code. */
export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let code = 0
  const debug = argv.includes('--debug')
  const program = new Command('remit')
    .description('Remit: go, flag or stop for every action an agent takes on a customer')
    .version(packageVersion(), '-V, --version', 'print the version of @remit/cli')
    .option('--debug', 'show stack traces for unexpected errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showSuggestionAfterError()

  program
    .command('validate')
    .description('check a policy: every error and warning with file:line:col, rule id and hint')
    .argument('[policy]', 'the policy file', 'remit.yaml')
    .option('--strict', 'warnings fail too (exit 1)')
    .option('--facts <names>', 'facts callers send, comma-separated (for the "no provider supplies" check)')
    .option(
      '--supplied-by <file>',
      'a provider config (hubspot.yaml, …) whose facts count as supplied (repeatable)',
      collect,
      [],
    )
    .option('--map <file>', "an MCP gateway's mcp.yaml: also check it against the policy")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nAlso checks for conflicts: ownership rules that can both hold with different owners, permissions a stop always overrides, limits that can never be reached, comparisons with values a fact never has, and (with --facts/--supplied-by) facts no provider supplies.\n\nExamples:\n  remit validate\n  remit validate policies/remit.yaml --strict --supplied-by hubspot.yaml --facts renewalValue\n  remit validate remit.yaml --map mcp.yaml',
    )
    .action(async (policy: string, options) => {
      code = await validate(io, policy, options)
    })

  program
    .command('decide')
    .description('decide one action for one customer, as the decision API would')
    .addOption(new Option('--policy <file>', 'the policy file').default('remit.yaml'))
    .addOption(
      new Option('--store <path>', 'SQLite file holding the ledger (":memory:" keeps nothing)').default(
        ':memory:',
      ),
    )
    .option('--agent <id>', 'the agent asking')
    .option('--tool <tool>', 'or the tool it runs in, e.g. hubspot:workflow/1001')
    .option('--action <kind>', 'the action kind, from the policy')
    .option('--attr <name=value>', 'an action attribute (repeatable)', collect, [])
    .option('--account <id>', 'the customer account')
    .option('--contact <id>', 'the contact')
    .option('--email <address>', 'the contact e-mail')
    .option('--fact <name=value>', 'a customer fact (repeatable)', collect, [])
    .option('--at <time>', 'decide as of this ISO 8601 time (default: now)')
    .option('--idempotency-key <key>', 'same key, same decision')
    .option('--dry-run', 'decide without logging or reserving')
    .option('--request <file>', 'the request body as JSON ("-" for stdin) instead of the flags above')
    .option('--json', 'print the decision as the API returns it')
    .addHelpText(
      'after',
      `
Examples:
  remit decide --agent sales-agent --action offer.discount --attr discountPct=20 \\
    --account initech --fact lifecycle=prospect
  remit decide --tool hubspot:workflow/1001 --request body.json --json
  remit decide --store remit.db --agent marketing-agent --action email.positioning --account acme \\
    --fact lifecycle=renewal`,
    )
    .action(async (options) => {
      code = await decide(io, options)
    })

  program
    .command('serve')
    .description('run the decision API (HTTP) on the embedded SQLite store, or PostgreSQL')
    .addOption(
      new Option('--policy <file>', 'the policy file (reloaded when it changes)').default('remit.yaml'),
    )
    .addOption(
      new Option('--store <path|url>', 'a SQLite file, or postgres://user@host:5432/db').default('remit.db'),
    )
    .addOption(
      new Option('--keys <file>', 'keys.yaml: hashes of the keys callers present').default('keys.yaml'),
    )
    .addOption(new Option('--port <n>', 'port').default('8787'))
    .addOption(new Option('--host <addr>', 'address to listen on').default('127.0.0.1'))
    .option('--no-watch', 'do not reload the policy when its file changes')
    .option(
      '--candidate <file>',
      'run this policy in shadow beside the live one, on every instance sharing the store (remit candidate report)',
    )
    .option('--public-url <url>', 'the https:// origin HubSpot calls (its request signatures cover it)')
    .option('--hubspot-config <file>', 'hubspot.yaml: fact mapping and CRM lookups for the HubSpot action')
    .option('--salesforce-org <alias>', 'publish review outcomes as Remit_Review__e to this `sf` org')
    .option(
      '--slack-config <file>',
      "slack.yaml: each team's channel and members (Slack is served when REMIT_SLACK_BOT_TOKEN is set)",
    )
    .option(
      '--webhooks <file>',
      'POST each review event, signed, to the URLs this file names (through the outbox)',
    )
    .option(
      '--console <dir>',
      "serve the console from this build (default: the one inside @remit/server, or this repository's apps/console/dist)",
    )
    .option('--no-console', 'do not serve the console')
    .addOption(
      new Option(
        '--clock-skew <duration>',
        "how far an agent's `at` may be from the server's clock (e.g. 5m, 30s); the server's clock decides",
      ).default('5m'),
    )
    .option(
      '--decision-log <file|->',
      'every decision as one JSON line (customers named: personal data), appended to the file (reopened on SIGHUP), or - for stdout (logs then go to stderr)',
    )
    .addOption(
      new Option('--log-level <level>', 'pino level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .addHelpText(
      'after',
      `
Examples:
  remit serve --policy remit.yaml --store ./remit.db --keys keys.yaml --port 8787
  remit serve --policy remit.yaml --store postgres://remit@127.0.0.1:5432/remit --keys keys.yaml
  remit serve --policy remit.yaml --keys keys.yaml --salesforce-org acme-prod

HubSpot: with REMIT_HUBSPOT_CLIENT_ID, REMIT_HUBSPOT_CLIENT_SECRET and REMIT_SECRET_KEY set, the
"Check with Remit" action is served (/hubspot/action, /hubspot/options, /hubspot/install); see
--hubspot-config and --public-url.

Slack: with REMIT_SLACK_BOT_TOKEN and REMIT_SLACK_SIGNING_SECRET set and --slack-config slack.yaml,
each flag is posted to its team's channel with Approve / Reject (interactivity: /slack/interactivity).`,
    )
    .action(async (options) => {
      code = await serve(io, options)
    })

  program
    .command('keys')
    .description('manage API keys')
    .command('new')
    .description(
      'make a key for an agent, a reviewer team or an admin: adds its hash to keys.yaml and prints the key, once',
    )
    .option('--agent <id>', 'the agent the key decides as')
    .option('--tool <tool>', 'with --agent: the tool the key stands for, e.g. hubspot:workflow/1001')
    .option('--reviewer <team>', 'the team whose reviews the key may answer')
    .option('--admin', 'policy reload and key management')
    .option(
      '--name <name>',
      'a name for logs and the console (default: <agent>-key, <team>-reviewers, admin)',
    )
    .option('--file <keys.yaml>', 'add the entry to this file (created, mode 0600, if missing)', 'keys.yaml')
    .option('--no-file', 'write nothing: print the key and the line to add by hand')
    .option(
      '--policy <file>',
      'check the agent, its tool or the team against this policy (default: remit.yaml, when there is one)',
    )
    .option('--no-policy', 'do not check the names against a policy (for a key made before its policy)')
    .addHelpText(
      'after',
      `
Prints the key alone on stdout, once (Remit keeps only its hash), so KEY=$(remit keys new …) works;
what was written goes to stderr. A running \`remit serve\` picks up the new keys.yaml line by itself.

Examples:
  remit keys new --agent sales-agent
  KEY=$(remit keys new --agent marketing-agent --tool hubspot:workflow/1001 --name hubspot-marketing)
  remit keys new --reviewer sales --file /etc/remit/keys.yaml --policy /etc/remit/remit.yaml
  remit keys new --admin --no-file`,
    )
    .action(async (options) => {
      code = await keysNew(io, options)
    })

  const outbox = program
    .command('outbox')
    .description('work Remit owes vendors (HubSpot callbacks, Salesforce events): list it, retry the dead')
  outbox
    .command('list')
    .description('messages in the outbox, oldest first')
    .addOption(servedStore())
    .option('--status <status>', 'pending, delivered or dead')
    .option('--channel <channel>', 'hubspot, salesforce, …')
    .option('--limit <n>', 'at most this many (default 100)')
    .option('--json', 'print the messages as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  remit outbox list --status dead\n  remit outbox list --store postgres://remit@127.0.0.1/remit --channel hubspot',
    )
    .action(async (options) => {
      code = await outboxList(io, options)
    })
  outbox
    .command('retry')
    .description('put a dead message back to be delivered')
    .argument('<id>', 'the message id (obx_…)')
    .addOption(servedStore())
    .addHelpText(
      'after',
      '\nExamples:\n  remit outbox retry obx_01J…\n  remit outbox retry obx_01J… --store postgres://remit@127.0.0.1/remit',
    )
    .action(async (id, options) => {
      code = await outboxRetry(io, id, options)
    })

  program
    .command('prune')
    .description(
      "remove what no rule reads and the audit no longer keeps: touches older than the policy's longest window, decisions older than --keep-decisions",
    )
    .addOption(servedStore())
    .addOption(
      new Option('--policy <file>', 'the policy in service (its longest window)').default('remit.yaml'),
    )
    .addOption(
      new Option('--keep-decisions <duration>', 'how long decisions are kept for the audit').default('400d'),
    )
    .option('--dry-run', 'count what would be removed, remove nothing')
    .option('--json', 'print the counts as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  remit prune --dry-run\n  remit prune --store postgres://remit@127.0.0.1/remit --policy remit.yaml --keep-decisions 730d',
    )
    .action(async (options) => {
      code = await pruneCommand(io, options)
    })

  const suppress = program
    .command('suppress')
    .description('customers who must not be contacted: suppress one, list them, lift one')
    .addHelpText(
      'after',
      '\nExamples:\n  remit suppress add --email jane@acme.example --channel email --reason manual\n  remit suppress list --email jane@acme.example\n  remit suppress lift sup_01J… --note "resubscribed by phone"',
    )
  suppress
    .command('add')
    .description(
      'record that a customer must not be contacted (on one channel, or every one): every outbound action it covers stops',
    )
    .addOption(servedStore())
    .option('--email <address>', 'the address (any case)')
    .option('--contact <id>', 'the contact')
    .option('--account <id>', 'the account (with --email or --contact: only that person of it)')
    .option('--channel <channel>', 'only this channel, e.g. email (default: every channel)')
    .option('--reason <reason>', 'why: unsubscribe, spamreport, bounce, manual…')
    .addHelpText(
      'after',
      '\nExamples:\n  remit suppress add --email jane@acme.example --channel email --reason unsubscribe\n  remit suppress add --store postgres://remit@127.0.0.1/remit --account initech --reason legal-hold',
    )
    .action(async (options) => {
      code = await suppressAdd(io, options)
    })
  suppress
    .command('list')
    .description('suppressions on record, in force and lifted, oldest first')
    .addOption(servedStore())
    .option('--account <id>', "only this account's")
    .option('--email <address>', 'only those of this address (any case)')
    .option('--json', 'print them as the API returns them')
    .addHelpText(
      'after',
      '\nExamples:\n  remit suppress list\n  remit suppress list --store postgres://remit@127.0.0.1/remit --email jane@acme.example --json',
    )
    .action(async (options) => {
      code = await suppressList(io, options)
    })
  suppress
    .command('lift')
    .alias('remove')
    .description(
      'lift a suppression (alias: remove): it stops nothing from now on, and stays on record with who lifted it',
    )
    .argument('<id>', 'the suppression id (sup_…)')
    .addOption(servedStore())
    .option('--note <text>', 'why, kept on record')
    .addHelpText(
      'after',
      '\nExamples:\n  remit suppress lift sup_01J…\n  remit suppress lift sup_01J… --store postgres://remit@127.0.0.1/remit --note "resubscribed by phone"',
    )
    .action(async (id, options) => {
      code = await suppressLift(io, id, options)
    })

  program
    .command('touch')
    .description(
      'record a touch that happened elsewhere (a call, a meeting, a CRM e-mail): limits count it from then on',
    )
    .addOption(servedStore())
    .addOption(
      new Option('--policy <file>', "the policy (checks the team; the kind's defaults)").default(
        'remit.yaml',
      ),
    )
    .option('--account <id>', 'the customer account')
    .option('--contact <id>', 'the contact')
    .option('--email <address>', 'the address it went to (with --contact, links the two)')
    .option('--kind <kind>', 'what happened, e.g. call, meeting, email.manual')
    .option('--channel <channel>', "e.g. email, phone (default: the policy's for that kind)")
    .option('--team <team>', 'the team that made it')
    .option('--at <time>', 'when, as ISO 8601 with an offset (default: now)')
    .option('--outbound', "we reached out (default: the policy's for that kind, else outbound)")
    .option('--inbound', 'the customer reached us')
    .option('--note <text>', 'a note kept with it')
    .addHelpText(
      'after',
      '\nExamples:\n  remit touch --account acme --email jane@acme.example --kind call --channel phone --team sales\n  remit touch --store postgres://remit@127.0.0.1/remit --account acme --kind meeting --inbound --at 2026-04-10T10:00:00Z',
    )
    .action(async (options) => {
      code = await touchCommand(io, options)
    })

  program
    .command('hubspot')
    .description('HubSpot workflows')
    .command('register')
    .description('create or update the "Check with Remit" custom workflow action in your HubSpot app')
    .option('--print', 'print the definition as JSON and send nothing')
    .option('--app-id <id>', "your HubSpot app id (default: hubspot.yaml's appId)")
    .option(
      '--public-url <url>',
      "the https:// URL where HubSpot reaches this Remit server (default: hubspot.yaml's publicUrl)",
    )
    .addOption(new Option('--base-url <url>').hideHelp())
    .addOption(
      new Option('--policy <file>', 'the policy whose action kinds the dropdown offers').default(
        'remit.yaml',
      ),
    )
    .addOption(
      new Option(
        '--config <file>',
        'hubspot.yaml: the app and the record properties facts come from',
      ).default('hubspot.yaml'),
    )
    .addOption(new Option('--hubspot-api <url>', 'HubSpot API base (tests)').hideHelp())
    .addHelpText(
      'after',
      '\nRegistering needs REMIT_HUBSPOT_DEVELOPER_KEY in the environment; --print needs nothing.\n\nExamples:\n  remit hubspot register --print\n  REMIT_HUBSPOT_DEVELOPER_KEY=… remit hubspot register --app-id 123456 --public-url https://remit.example.com',
    )
    .action(async (options) => {
      code = await hubspotRegister(io, { ...options, publicUrl: options.publicUrl ?? options.baseUrl })
    })

  const salesforce = program.command('salesforce').description('Salesforce Flow, through External Services')
  salesforce
    .command('package')
    .description(
      'write the source-format project admins deploy: spec, credentials per agent, permission sets, Remit_Review__e',
    )
    .requiredOption('--server-url <url>', 'the https:// URL where Salesforce reaches Remit')
    .addOption(new Option('--out <dir>', 'where to write it').default('remit-salesforce'))
    .addOption(new Option('--policy <file>', 'the policy').default('remit.yaml'))
    .option(
      '--agent <id>',
      'an agent flows act as (repeatable; default: agents with salesforce: tools)',
      collect,
      [],
    )
    .addHelpText(
      'after',
      '\nExample:\n  remit salesforce package --server-url https://remit.example.com --out remit-salesforce',
    )
    .action(async (options) => {
      code = await salesforcePackage(io, options)
    })
  salesforce
    .command('deploy')
    .description("deploy that project with your `sf` login, report each component, and set each agent's key")
    .requiredOption('--target-org <alias>', 'an org alias or username you logged in with `sf org login`')
    .addOption(new Option('--dir <dir>', 'the project').default('remit-salesforce'))
    .addHelpText(
      'after',
      '\nKeys come from REMIT_KEY_<AGENT> (e.g. REMIT_KEY_SALES_AGENT).\n\nExample:\n  REMIT_KEY_SALES_AGENT=rk_… remit salesforce deploy --target-org acme-prod',
    )
    .action(async (options) => {
      code = await salesforceDeploy(io, options)
    })

  program
    .command('mcp-gateway')
    .description(
      'put Remit between an agent and an MCP server: each mapped tool call gets go (forwarded), flag (held for a human, sent once when approved) or stop',
    )
    .argument('[upstream...]', 'after --: the command that starts the upstream MCP server (stdio)')
    .addOption(new Option('--policy <file>', 'the policy file').default('remit.yaml'))
    .addOption(
      new Option('--map <file>', 'mcp.yaml: tool → action kind, customer and attributes').default('mcp.yaml'),
    )
    .option('--agent <id>', 'the agent the calls are made as (embedded Remit)')
    .addOption(
      new Option('--store <path|url>', 'the SQLite file or postgres://… of the ledger').default('remit.db'),
    )
    .option('--remit-url <url>', 'ask a running `remit serve` instead (the agent key in REMIT_KEY)')
    .option('--upstream-url <url>', 'an upstream MCP server over Streamable HTTP, instead of a command')
    .addOption(
      new Option('--hold <file>', 'SQLite file of flagged calls and spent approvals').default('remit-mcp.db'),
    )
    .option('--wait <duration>', 'hold a flagged call open this long for a quick approval, e.g. 30s')
    .option('--no-describe-gates', "do not note each tool's gate in its description")
    .option(
      '--listen <port>',
      'serve Streamable HTTP to remote agents on this port (at /mcp), each by its agent key as a bearer token',
    )
    .addOption(new Option('--host <address>', 'the address --listen binds').default('127.0.0.1'))
    .addOption(
      new Option(
        '--keys <file>',
        "keys.yaml for --listen without --remit-url: a client's key names its agent",
      ).default('keys.yaml'),
    )
    .addHelpText(
      'after',
      '\nMCP goes over stdin/stdout (with --listen, over HTTP); everything the gateway says goes to stderr.\n\nExamples:\n  remit mcp-gateway --policy remit.yaml --map mcp.yaml --agent crm-agent --store remit.db -- node crm-server.js\n  REMIT_KEY=rk_… remit mcp-gateway --map mcp.yaml --remit-url http://127.0.0.1:8787 --upstream-url http://127.0.0.1:3000/mcp\n  remit mcp-gateway --listen 8788 --keys keys.yaml --store remit.db -- node crm-server.js',
    )
    .action(async (upstream: string[], options) => {
      code = await mcpGateway(io, upstream, options)
    })

  program
    .command('mcp')
    .description(
      "an MCP server (stdio) with Remit's own tools: remit_decide, remit_explain, remit_customer_timeline",
    )
    .addOption(new Option('--policy <file>', 'the policy file').default('remit.yaml'))
    .addOption(
      new Option('--store <path|url>', 'the SQLite file or postgres://… of the ledger').default('remit.db'),
    )
    .option('--agent <id>', 'the agent the tools answer as')
    .addHelpText(
      'after',
      '\nExamples:\n  remit mcp --agent sales-agent\n  remit mcp --policy remit.yaml --store remit.db --agent marketing-agent',
    )
    .action(async (options) => {
      code = await mcpServe(io, options)
    })

  program
    .command('test')
    .description(
      'run policy unit tests (*.test.yaml next to the policy): given agent, action, customer, time and seeded touches, suppressions, commitments; expect a verdict, rules, retryAfter, reviewTeam, notify',
    )
    .argument('[dir]', 'where to look for *.test.yaml', '.')
    .option('--watch', 'run again when a policy or test changes')
    .addHelpText('after', '\nExamples:\n  remit test\n  remit test policies --watch')
    .action(async (dir: string, options) => {
      code = await policyTest(io, dir, options)
    })

  program
    .command('explain')
    .description(
      'one decision as a readable trace: the rules in scope, which matched, what they read, why the verdict',
    )
    .addOption(new Option('--policy <file>', 'the policy file').default('remit.yaml'))
    .option(
      '--request <file>',
      'a JSON decision body (may hold "agent" or "tool", and "touches" for the ledger)',
    )
    .option('--agent <id>', 'the agent asking')
    .option('--tool <tool>', 'or the tool it runs in')
    .option('--action <kind>', 'the action kind')
    .option('--attr <name=value>', 'an action attribute (repeatable)', collect, [])
    .option('--account <id>', 'the customer account')
    .option('--contact <id>', 'the contact')
    .option('--email <address>', 'the contact e-mail')
    .option('--fact <name=value>', 'a customer fact (repeatable)', collect, [])
    .option('--at <time>', 'as of this ISO 8601 time')
    .option('--store <path>', "read the account's ledger from this SQLite file")
    .option(
      '--decision <id>',
      'explain a logged decision (with --store): as it was asked, against the ledger as it stood then',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  remit explain --agent support-agent --action sequence.winback --account acme --fact lifecycle=renewal --fact tier=enterprise\n  remit explain --request decision.json\n  remit explain --decision dec_… --store remit.db',
    )
    .action(async (options) => {
      code = await explainCommand(io, { ...options, store: options.store ?? ':memory:' })
    })

  /** Where the candidate commands find the running server, and the key they present. */
  const served = (command: Command) =>
    command
      .addOption(new Option('--server <url>', 'the running remit serve').default('http://127.0.0.1:8787'))
      .option('--key <key>', 'an admin key (a reviewer key to sign off or read; default: $REMIT_KEY)')
  const candidate = program
    .command('candidate')
    .description(
      'a candidate policy in shadow beside the live one: set it, read what it would change, sign off',
    )
  served(candidate.command('set'))
    .description(
      'run a policy in shadow on every instance sharing the store: nothing reserved, reviewed or sent',
    )
    .argument('<file>', 'the candidate policy file')
    .addHelpText('after', '\nExamples:\n  remit candidate set next.yaml --key $ADMIN_KEY')
    .action(async (file, options) => {
      code = await candidateSet(io, file, options)
    })
  served(candidate.command('clear'))
    .description('stop running the candidate (what it recorded stays)')
    .addHelpText('after', '\nExamples:\n  remit candidate clear --key $ADMIN_KEY')
    .action(async (options) => {
      code = await candidateClear(io, options)
    })
  served(candidate.command('show'))
    .description('the live version, the candidate, who signed off, and the history of policy changes')
    .option('--json', 'print it as the API returns it')
    .addHelpText('after', '\nExamples:\n  remit candidate show --key $ADMIN_KEY')
    .action(async (options) => {
      code = await candidateShow(io, options)
    })
  served(candidate.command('sign-off'))
    .description("a team agrees to the candidate (a reviewer's key signs for its own team)")
    .option('--team <team>', "the team (default: the reviewer key's team; an admin names one)")
    .option('--note <text>', 'what the team agreed to, kept in the history')
    .option('--version <version>', 'the candidate version agreed to (refused if it changed since)')
    .addHelpText(
      'after',
      '\nExamples:\n  remit candidate sign-off --team sales --note "we can take the load" --key $SALES_REVIEWER_KEY',
    )
    .action(async (options) => {
      code = await candidateSignOff(io, options)
    })
  served(candidate.command('report'))
    .description(
      'what the candidate would have changed in live traffic: flips by kind, flags per team per day, top rules, examples',
    )
    .addOption(new Option('--since <duration|time>', 'how far back').default('24h'))
    .option('--json', 'print the report as JSON')
    .option('--html <file>', 'also write the report as an HTML page')
    .addHelpText(
      'after',
      '\nExamples:\n  remit candidate report --since 7d\n  remit candidate report --json > report.json',
    )
    .action(async (options) => {
      code = await candidateReportCommand(io, options)
    })
  served(program.command('promote'))
    .description(
      'make the candidate the live policy on every instance sharing the store, once every team it changes things for has signed off',
    )
    .option('--override', 'promote without every sign-off (an admin; recorded as an override)')
    .option('--note <text>', 'why, kept in the history')
    .addHelpText(
      'after',
      '\nExamples:\n  remit promote --key $ADMIN_KEY\n  remit promote --override --note "incident fix" --key $ADMIN_KEY',
    )
    .action(async (options) => {
      code = await promoteCommand(io, options)
    })
  served(program.command('rollback'))
    .description('return every instance sharing the store to the live version before the current one')
    .option('--note <text>', 'why, kept in the history')
    .addHelpText('after', '\nExamples:\n  remit rollback --key $ADMIN_KEY --note "review queue flooded"')
    .action(async (options) => {
      code = await rollbackCommand(io, options)
    })

  program
    .command('replay')
    .description(
      'run a policy over a history of attempted touches: verdicts per team and rule, flags per day against review capacity, and what changed against a baseline',
    )
    .requiredOption('--touches <file>', 'the history: NDJSON (see the README), or a CSV export with --from')
    .addOption(new Option('--policy <file>', 'the policy to try').default('remit.yaml'))
    .option('--baseline <file>', 'the policy in service today, to compare against')
    .addOption(
      new Option('--from <format>', "the history's format").choices(['ndjson', 'hubspot', 'salesforce']),
    )
    .option('--map <file>', 'column mapping for a CSV export (YAML)')
    .option('--assume-approved', 'treat flags as approved (their touches go out)')
    .option('--json', 'print the report as JSON')
    .option('--html <file>', 'write a self-contained HTML report with charts')
    .addHelpText(
      'after',
      '\nExamples:\n  remit replay --policy remit.yaml --touches history.ndjson\n  remit replay --policy new.yaml --baseline remit.yaml --touches history.ndjson --html report.html\n  remit replay --policy remit.yaml --touches activities.csv --from hubspot --map hubspot-map.yaml',
    )
    .action(async (options) => {
      code = await replayCommand(io, options)
    })

  // An unknown command is an error even with --help (commander would print the root help and exit 0),
  // and after `help` (commander would print the root help and exit 2, naming nothing).
  const words = argv.filter((a) => !a.startsWith('-'))
  const first = words[0] === 'help' && words.length > 1 ? words[1] : words[0]
  const known = ['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])]
  if (first !== undefined && !known.includes(first)) {
    const meant = closest(first, known)
    // Worded as commander words it (the same error with or without --help).
    io.err(`error: unknown command '${first}'${meant ? `\n(Did you mean ${meant}?)` : ''}`)
    return EXIT.usage
  }
  describeExits(program)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (error) {
    // Commander's own errors (an unknown option, a missing argument) are usage errors; help is not.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    return printError(io, error, debug)
  }
}

/** What 0 (and 1, where a command has it) means, per command; 2 and 3 mean the same everywhere. */
const EXIT_MEANING: Record<string, string[]> = {
  '': [
    '0  done (decide and explain: whatever the verdict)',
    '1  the command ran and its check failed: validate --strict found warnings, test a failing case',
  ],
  validate: ['0  valid (warnings are printed)', '1  warnings, with --strict'],
  test: ['0  every test passed', '1  a test failed'],
  decide: ['0  decided, whatever the verdict'],
  explain: ['0  explained, whatever the verdict'],
  serve: ['0  stopped by Ctrl-C (SIGINT) or SIGTERM, in-flight decisions finished'],
  'mcp-gateway': ['0  the client went (stdin closed), or Ctrl-C (SIGINT) or SIGTERM'],
  mcp: ['0  the client went (stdin closed), or Ctrl-C (SIGINT) or SIGTERM'],
}

/** Examples for the commands that only group others (each subcommand's help has its own). */
const GROUP_EXAMPLES: Record<string, string[]> = {
  '': [
    'remit validate remit.yaml',
    'remit decide --agent sales-agent --action offer.discount --attr discountPct=10 --account initech',
    'remit keys new --agent sales-agent',
    'remit serve --policy remit.yaml --keys keys.yaml',
    'remit help decide',
  ],
  keys: ['remit keys new --agent sales-agent', 'remit keys new --reviewer sales'],
  outbox: ['remit outbox list --status dead', 'remit outbox retry obx_01J…'],
  candidate: [
    'remit candidate set next.yaml',
    'remit candidate report --since 24h',
    'remit candidate sign-off --team sales',
  ],
  hubspot: ['remit hubspot register --print'],
  salesforce: [
    'remit salesforce package --server-url https://remit.example.com',
    'remit salesforce deploy --target-org acme-prod',
  ],
}

/** Every command's --help ends with what its exit codes mean (and a group's, with examples). */
function describeExits(command: Command, path: string[] = []): void {
  const name = path.join(' ')
  const examples = GROUP_EXAMPLES[name]
  if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`)
  const meaning = EXIT_MEANING[name] ?? ['0  done']
  command.addHelpText('after', `\nExit codes:\n${[...meaning, ...EXIT_HELP].map((l) => `  ${l}`).join('\n')}`)
  for (const sub of command.commands) describeExits(sub, [...path, sub.name()])
}
