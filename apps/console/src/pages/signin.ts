import { ApiError, type Principal, signIn } from '../api.ts'
import { h, page } from '../ui.ts'

export function signInPage(onSignedIn: (p: Principal) => void): void {
  const input = h('input', {
    id: 'key',
    name: 'key',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'key-help',
  })
  const error = h('p', { class: 'error', role: 'alert' })
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        error.textContent = ''
        try {
          onSignedIn(await signIn(input.value.trim()))
        } catch (err) {
          error.textContent =
            err instanceof ApiError && err.status === 403
              ? err.message
              : 'That key is not a reviewer or admin key.'
        }
      },
    },
    h('label', { for: 'key' }, 'Reviewer or admin key'),
    input,
    h(
      'p',
      { id: 'key-help', class: 'help' },
      'The key your team was given (remit keys new --reviewer <team>). It stays in this browser only as a session cookie.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  )
  page('Sign in', form)
  input.focus()
}
