import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { z } from 'zod'

/** Slack's ids: a channel (C…, G…), a user (U…, W…). */
const slackId = z.string().regex(/^[A-Z][A-Z0-9]{2,}$/, 'a Slack id such as C0123456789 or U0123456789')

const teamSchema = z.strictObject({
  /** The channel the team's flags are posted to (its id: the bot must be a member). */
  channel: slackId,
  /** The Slack users who may answer the team's reviews from Slack; anyone else is told "not yours". */
  members: z.array(slackId).default([]),
})

/** slack.yaml: per policy team, its channel and the Slack users who answer for it. */
export const slackConfigSchema = z.strictObject({
  teams: z.record(z.string(), teamSchema),
})

export type SlackConfig = z.input<typeof slackConfigSchema>
export type SlackTeam = z.infer<typeof teamSchema>

/** A slack.yaml that does not read or does not fit the policy: the message names the file and the key. */
export class SlackConfigError extends Error {
  readonly code = 'SLACK_CONFIG_INVALID'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SlackConfigError'
  }
}

/** Checks a parsed config (`where` names it in errors: a file, or `config`). */
export function parseSlackConfig(raw: unknown, where = 'config'): z.infer<typeof slackConfigSchema> {
  const parsed = slackConfigSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  throw new SlackConfigError(
    parsed.error.issues
      .map((issue) => `${where}: ${issue.path.join('.') || '(file)'}: ${issue.message}`)
      .join('\n'),
  )
}

/** Reads and checks a slack.yaml. */
export async function readSlackConfig(path: string): Promise<z.infer<typeof slackConfigSchema>> {
  let raw: unknown
  try {
    raw = parse(await readFile(path, 'utf8')) ?? {}
  } catch (error) {
    throw new SlackConfigError(`${path}: ${(error as Error).message.split('\n')[0]}`, { cause: error })
  }
  return parseSlackConfig(raw, path)
}
