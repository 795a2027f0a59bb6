import './style.css'
import { ApiError, type Principal, session, signOut } from './api.ts'
import { candidatePage } from './pages/candidate.ts'
import { logPage } from './pages/log.ts'
import { policyPage } from './pages/policy.ts'
import { queueKeys, queuePage } from './pages/queue.ts'
import { signInPage } from './pages/signin.ts'
import { timelinePage } from './pages/timeline.ts'
import { h, say } from './ui.ts'

let who: Principal | undefined

async function route(): Promise<void> {
  if (!who) {
    who = await session()
    if (!who) return signInPage(signedIn)
    showWho()
  }
  const [path = '', search = ''] = location.hash.replace(/^#/, '').split('?')
  const params = new URLSearchParams(search)
  try {
    if (path.startsWith('/timeline'))
      await timelinePage(decodeURIComponent(path.split('/')[2] ?? '') || undefined)
    else if (path === '/log') await logPage(params)
    else if (path === '/policy') await policyPage(who)
    else if (path === '/candidate') await candidatePage(who, params)
    else await queuePage()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      who = undefined
      return route()
    }
    say(`Something went wrong: ${(error as Error).message}`)
  }
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    const current =
      location.hash.startsWith(a.getAttribute('href') ?? '') ||
      (!location.hash && a.getAttribute('href') === '#/queue')
    if (current) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

function signedIn(p: Principal): void {
  who = p
  showWho()
  if (!location.hash) location.hash = '#/queue'
  void route()
}

function showWho(): void {
  const el = document.getElementById('who') as HTMLElement
  el.replaceChildren(
    `${who?.name} (${who?.kind === 'reviewer' ? `${who.team} reviewer` : 'admin'}) `,
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: async () => {
          await signOut()
          who = undefined
          el.replaceChildren()
          void route()
        },
      },
      'Sign out',
    ),
  )
}

window.addEventListener('hashchange', () => void route())
window.addEventListener('keydown', queueKeys)
void route()
