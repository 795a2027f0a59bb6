import DOMPurify from 'dompurify'
import { h } from './ui.ts'

// What a flagged touch would show the customer (the decision's `preview`), for its reviewer. The
// agent wrote it, so none of it is trusted: subject, sender, text and link are text nodes, never
// HTML; an e-mail's HTML is sanitized (DOMPurify) and then shown in a frame that is sandboxed with no
// permission at all (no scripts, its own opaque origin, no forms, popups or top navigation), whose
// own CSP forbids scripts and every remote load (no tracking pixel fires because a reviewer looked).

export interface Preview {
  subject?: string
  from?: string
  text?: string
  html?: string
  link?: string
}

/** The frame's policy: nothing runs, nothing loads but inline images and inline styles. */
export const PREVIEW_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

// Its own instance, so its hook touches nothing else that sanitizes.
const purify = DOMPurify(window)
purify.addHook('afterSanitizeAttributes', (node) => {
  // A link is shown, never followed (a click would load it in the frame): where it points stays
  // readable on hover.
  for (const name of ['href', 'xlink:href']) {
    const target = node.getAttribute?.(name)
    if (target === null || target === undefined) continue
    node.removeAttribute(name)
    if (!node.hasAttribute('title')) node.setAttribute('title', target)
  }
  // A remote image is not even named to the frame: the CSP blocks it, but a browser's preload
  // scanner has been seen to fetch one before the CSP applied (a tracking pixel fired in one run of
  // the console test). Inline (data:) images stay.
  for (const name of ['src', 'srcset', 'background', 'poster']) {
    const source = node.getAttribute?.(name)
    if (source === null || source === undefined || /^data:/i.test(source.trim())) continue
    node.removeAttribute(name)
    if (!node.hasAttribute('title')) node.setAttribute('title', `remote image, not loaded: ${source}`)
  }
})

/** The e-mail's HTML as the frame's document: sanitized, under the CSP above. */
export function previewDocument(html: string): string {
  // FORCE_BODY keeps a message's leading <style> (a full document's head styles, too).
  const body = purify.sanitize(html, { FORCE_BODY: true })
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}"><meta name="referrer" content="no-referrer"></head><body>${body}</body></html>`
}

/** The preview block of a review card, or undefined when the decision has none. */
export function previewBlock(p: Preview | undefined): HTMLElement | undefined {
  if (!p || !(p.subject || p.from || p.text || p.html || p.link)) return undefined
  return h(
    'section',
    { class: 'preview', 'aria-label': 'What the customer would see' },
    p.subject !== undefined && p.subject !== ''
      ? h('p', { class: 'subject' }, h('strong', {}, 'Subject: '), p.subject)
      : undefined,
    p.from ? h('p', { class: 'from' }, 'From: ', p.from) : undefined,
    p.link ? h('p', { class: 'link' }, 'Link: ', h('code', {}, p.link)) : undefined,
    p.text
      ? h('pre', { class: 'body-text', tabindex: '0', 'aria-label': 'Text of the message' }, p.text)
      : undefined,
    p.html
      ? h('iframe', {
          class: 'body-html',
          title: 'HTML of the message (sanitized; no scripts, nothing loaded)',
          sandbox: true,
          referrerpolicy: 'no-referrer',
          srcdoc: previewDocument(p.html),
        })
      : undefined,
  )
}
