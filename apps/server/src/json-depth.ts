/** The deepest nesting any request body may have: no field of the API nests deeper than a few levels. */
export const MAX_JSON_DEPTH = 32

/**
 * How deeply a JSON text nests objects and arrays, read in one pass without parsing (strings are
 * skipped, escapes included), so a body nested 20,000 levels is refused before anything recurses
 * on it. Stops counting once past `MAX_JSON_DEPTH`. Malformed text is left to JSON.parse.
 */
export function jsonDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > MAX_JSON_DEPTH) return deepest
      }
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return deepest
}
