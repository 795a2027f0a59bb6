import { HubSpotInstallError, type HubSpotOAuth } from './oauth.ts'

// The two pages of an install, as raw routes the server mounts: /hubspot/install sends the user to
// HubSpot to approve the app; HubSpot sends them back to /hubspot/oauth/callback with a code.

type Answer = { status: number; body: unknown; headers?: Record<string, string> }

const page = (status: number, title: string, text: string): Answer => ({
  status,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>`,
})

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function installRoutes(
  oauth: HubSpotOAuth,
  log?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void },
) {
  return [
    {
      method: 'GET' as const,
      url: '/hubspot/install',
      handle: async (): Promise<Answer> => ({
        status: 302,
        headers: { location: oauth.authorizeUrl() },
        body: '',
      }),
    },
    {
      method: 'GET' as const,
      url: '/hubspot/oauth/callback',
      handle: async (_raw: string, _headers: unknown, req: { url: string }): Promise<Answer> => {
        const query = new URL(req.url, 'http://remit').searchParams
        const error = query.get('error')
        if (error)
          return page(
            400,
            'Remit was not installed',
            `HubSpot said: ${query.get('error_description') ?? error}`,
          )
        const code = query.get('code')
        if (!code)
          return page(
            400,
            'Remit was not installed',
            'HubSpot sent no code: start again from /hubspot/install',
          )
        try {
          const { portalId, scopes } = await oauth.install(code, query.get('state') ?? '')
          log?.info({ portalId, scopes }, 'hubspot: installed')
          return page(
            200,
            'Remit is installed',
            `HubSpot portal ${portalId} can now use "Check with Remit" in its workflows.`,
          )
        } catch (e) {
          if (!(e instanceof HubSpotInstallError)) throw e
          log?.warn({ err: e }, 'hubspot: install refused')
          return page(400, 'Remit was not installed', e.message)
        }
      },
    },
  ]
}
