import { err, ok, type Result } from './result.js';

/**
 * `http(s)://` and a non-empty authority, then what ends the authority: a path
 * (`/`, or `\` which URL parsers read as `/` in http(s)), a query or a
 * fragment — or nothing, in a URL without template tags.
 */
const SCHEME_AND_AUTHORITY = /^https?:\/\/[^/\\?#]+([/\\?#]?)/i;

/**
 * The part of a webhook URL template no rendered value can change: the text
 * before its first tag (`{{` or `{%`) must spell out the scheme, host and
 * optional port and close the authority, so templates fill only the path,
 * query and fragment. Returns that text parsed, whose `origin` every
 * rendering keeps and whose `hostname` the destination policy checks.
 */
export function fixedWebhookUrl(template: string): Result<URL> {
  const tagAt = firstTagIndex(template);
  const fixed = tagAt < 0 ? template : template.slice(0, tagAt);
  const match = SCHEME_AND_AUTHORITY.exec(fixed);
  if (!match || (tagAt >= 0 && match[1] === '')) {
    return err(
      tagAt < 0
        ? `must be an http:// or https:// URL, got ${JSON.stringify(template)}`
        : `must spell out its scheme, host and port before any template tag, ending them with "/" ` +
            `(e.g. https://hooks.example.com/{{ user_id }}), got ${JSON.stringify(template)}`,
    );
  }
  try {
    return ok(new URL(fixed));
  } catch {
    return err(`is not a valid URL: ${JSON.stringify(fixed)}`);
  }
}

/**
 * The check of every URL rendered from `template`, which parses the template
 * once: why a rendered URL may not be called, if it may not — the template
 * has no fixed origin (a journey started before this rule), or the rendered
 * URL calls another origin than it.
 */
export function renderedWebhookUrlCheck(template: string): (rendered: string) => string | undefined {
  const fixed = fixedWebhookUrl(template);
  if (!fixed.ok) {
    const problem = `webhook.url ${fixed.error}`;
    return () => problem;
  }
  const { origin } = fixed.value;
  return (rendered) => {
    const renderedOrigin = originOf(rendered);
    return renderedOrigin === origin
      ? undefined
      : `webhook.url rendered to ${renderedOrigin ?? 'an invalid URL'}, not its fixed origin ${origin}`;
  };
}

function firstTagIndex(template: string): number {
  const output = template.indexOf('{{');
  const tag = template.indexOf('{%');
  if (output < 0) return tag;
  return tag < 0 ? output : Math.min(output, tag);
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
