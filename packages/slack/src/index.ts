export { SLACK_CHANNEL, type SlackApp, type SlackAppOptions, type SlackRoute, slackApp } from './app.ts'
export {
  parseSlackConfig,
  readSlackConfig,
  type SlackConfig,
  SlackConfigError,
  type SlackTeam,
  slackConfigSchema,
} from './config.ts'
export { APPROVE, escapeMrkdwn, htmlToText, REJECT, reviewMessage, type SlackMessage } from './message.ts'
export {
  SLACK_TIMESTAMP_TOLERANCE_S,
  type SlackVerification,
  slackSignature,
  verifySlackRequest,
} from './signature.ts'
