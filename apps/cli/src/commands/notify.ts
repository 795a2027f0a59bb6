import type { Remit } from '@remit/core'
import type { RawRoute } from '@remit/server'
import { optional } from '../optional.ts'
import { UsageError } from '../output.ts'

// What `remit serve` tells people of reviews: Slack (each flag posted to its team's channel, with
// buttons; served when REMIT_SLACK_BOT_TOKEN is set) and signed webhooks (--webhooks <file>). Both
// go through the outbox, so a receiver that is down delays its messages and loses none.

type Log = {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface Notifications {
  /** Slack's interactivity endpoint, when Slack is served. */
  routes: RawRoute[]
  /** Starts posting and sending with this server's Remit. */
  attach(server: { remit: Remit; app: { log: Log } }): void
}

const need = (name: string, why: string): string => {
  const value = process.env[name]
  if (!value) throw new UsageError(`${why}: set ${name} too`)
  return value
}

/** Slack, when its bot token is in the environment (with its signing secret and --slack-config). */
async function slack(configPath: string | undefined) {
  const token = process.env.REMIT_SLACK_BOT_TOKEN
  if (!token) {
    if (configPath)
      throw new UsageError(
        '--slack-config is given: set REMIT_SLACK_BOT_TOKEN and REMIT_SLACK_SIGNING_SECRET too',
      )
    return undefined
  }
  const signingSecret = need('REMIT_SLACK_SIGNING_SECRET', 'REMIT_SLACK_BOT_TOKEN is set')
  if (!configPath)
    throw new UsageError(
      'REMIT_SLACK_BOT_TOKEN is set: name the channel and members of each team with --slack-config slack.yaml',
    )
  const lib = await optional(
    '@remit/slack',
    'Slack (REMIT_SLACK_BOT_TOKEN is set)',
    () => import('@remit/slack'),
  )
  let config: Awaited<ReturnType<typeof lib.readSlackConfig>>
  try {
    config = await lib.readSlackConfig(configPath)
  } catch (error) {
    if (error instanceof lib.SlackConfigError)
      throw new UsageError(error.message, 'check the file given to --slack-config')
    throw error
  }
  return {
    lib,
    app: lib.slackApp({
      config,
      token,
      signingSecret,
      // Another base URL for Slack's Web API (a proxy, or a test double).
      ...(process.env.REMIT_SLACK_API_URL ? { slackApiUrl: process.env.REMIT_SLACK_API_URL } : {}),
    }),
  }
}

/** Slack and webhooks as `remit serve`'s options and environment configure them. */
export async function notifications(o: { slackConfig?: string; webhooks?: string }): Promise<Notifications> {
  const { readWebhooksFile, reviewWebhooks, WebhooksConfigError } = await import('@remit/server')
  let targets: Awaited<ReturnType<typeof readWebhooksFile>> = []
  if (o.webhooks) {
    try {
      targets = await readWebhooksFile(o.webhooks)
    } catch (error) {
      if (error instanceof WebhooksConfigError)
        throw new UsageError(error.message, 'check the file given to --webhooks')
      throw error
    }
  }
  const s = await slack(o.slackConfig)
  return {
    routes: s ? s.app.routes : [],
    attach(server) {
      if (s) {
        try {
          s.app.attach(server.remit, server.app.log)
        } catch (error) {
          if (error instanceof s.lib.SlackConfigError)
            throw new UsageError(error.message, "make slack.yaml name the policy's teams")
          throw error
        }
      }
      if (targets.length) reviewWebhooks(server.remit, targets, { log: server.app.log })
    },
  }
}
