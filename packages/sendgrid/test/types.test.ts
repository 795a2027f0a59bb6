import sgClient from '@sendgrid/client'
import type sgMail from '@sendgrid/mail'
import { expect, expectTypeOf, it } from 'vitest'
import type { Alert, Gated, GatedResult, Held, ReleaseReport, SendReport, V3Mail } from '../src/index.ts'

type ClientResponse = Awaited<ReturnType<typeof sgMail.send>>[0]
/** sgMail's body type (`{}`, as its d.ts says). */
type Body = Awaited<ReturnType<typeof sgMail.send>>[1]

// Checked by `tsc` (the package's typecheck), never run: what gate() makes of the real SDK's types.
// `@ts-expect-error` lines are the checks that sgMail's own message type still holds at the surface.
function typed(mail: Gated<typeof sgMail>, client: Gated<typeof sgClient>) {
  const one: Promise<GatedResult<ClientResponse, Body>> = mail.send({
    to: 'a@x.example',
    from: 'b@x.example',
    text: 'Hello',
  })
  const many: Promise<GatedResult<ClientResponse, Body>[]> = mail.send([
    { to: 'a@x.example', from: 'b@x.example', html: '<p>Hello</p>' },
  ])
  // @ts-expect-error a message needs content (text, html, a template or content), as sgMail says
  void mail.send({ to: 'a@x.example', from: 'b@x.example' })
  // @ts-expect-error and a sender
  void mail.sendMultiple({ to: 'a@x.example', text: 'Hello' })
  void mail.send({ to: 'a@x.example', from: 'b@x.example', text: 'Hello' }, false, (error, result) => {
    expectTypeOf(error).toEqualTypeOf<Error | null>()
    expectTypeOf(result).toEqualTypeOf<GatedResult<ClientResponse, Body> | null>()
  })
  // The rest of sgMail's surface, as sgMail types it.
  mail.setApiKey('SG.key')
  mail.setClient(sgClient)
  mail.setTimeout(5000)
  mail.setSubstitutionWrappers('{{', '}}')
  // The outbox.
  const released: Promise<ReleaseReport> = mail.release()
  const held: Held[] = mail.held()
  const alerts: Alert[] = mail.alerts()
  const retried: Promise<Held> = mail.retry('rev_1')

  // A Client: its requests as it types them; a mail send resolves with a report.
  void client.request({ method: 'POST', url: '/v3/mail/send', body: {} }).then(([response, body]) => {
    expectTypeOf(response).toEqualTypeOf<ClientResponse | null>()
    expectTypeOf(body).toBeAny()
  })
  void client.request({ method: 'GET', url: '/v3/scopes' }).then((r) => {
    expectTypeOf(r.remit).toEqualTypeOf<SendReport | undefined>()
  })
  // @ts-expect-error a request needs a url
  void client.request({ method: 'GET' })
  client.setDefaultRequest('baseUrl', 'http://127.0.0.1:3000')
  client.setImpersonateSubuser('subuser')
  return { one, many, released, held, alerts, retried }
}

it("gate() keeps the real SDK's types (checked by tsc)", () => {
  expect(typeof typed).toBe('function')
  expectTypeOf<
    Parameters<Parameters<typeof import('../src/index.ts').gate<typeof sgClient>>[1]['action']>[0]
  >().toEqualTypeOf<V3Mail>()
})
