import { LinkifyIt } from 'linkify-it';

const linkify = new LinkifyIt();

/** Renders text with its web and mail addresses as links that open in a new tab. */
export function Linkified({ text }: { text: string }) {
  const matches = linkify.match(text) ?? [];
  const parts: Array<string | { url: string; label: string }> = [];
  let last = 0;
  for (const match of matches) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ url: match.url, label: match.text });
    last = match.lastIndex;
  }
  if (last < text.length) parts.push(text.slice(last));
  return (
    <>
      {parts.map((part, index) =>
        typeof part === 'string' ? (
          part
        ) : (
          <a key={index} href={part.url} target="_blank" rel="noopener noreferrer">
            {part.label}
          </a>
        ),
      )}
    </>
  );
}
