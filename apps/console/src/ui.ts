/** A tiny element builder: h('p', { class: 'x' }, 'text', child). Text is always text, never HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined | ((e: Event) => void)> = {},
  ...children: (Node | string | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, v)
  }
  for (const c of children) if (c !== undefined && c !== false) el.append(c)
  return el
}

export function say(message: string): void {
  const status = document.getElementById('status') as HTMLElement
  status.textContent = message
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', {
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
  })
}

export function page(title: string, ...children: (Node | string | undefined | false)[]): HTMLElement {
  const main = document.getElementById('main') as HTMLElement
  main.replaceChildren(
    h('h1', {}, title),
    ...children.filter((c): c is Node | string => c !== undefined && c !== false),
  )
  document.title = `${title} · Remit console`
  return main
}

/** A span of minutes as a person says it: 45 min, 5 h 20 min, 10 d 23 h (never "263 h"). */
export function span(minutes: number): string {
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`
  return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${Math.floor(hours / 24)} d`
}
