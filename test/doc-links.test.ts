// Every relative link in README.md and docs/*.md points to a file that exists
// and, when it names an anchor, to a heading of that file (GitHub's anchors).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const PAGES = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];

/** The page without fenced code blocks, where brackets are code, not links. */
const prose = (text: string): string => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = (heading as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return found;
}

/** `[text](target)` and `![alt](target)` links, and `<a href>`/`<img src>` ones. */
function links(text: string): string[] {
  const body = prose(text).replace(/`[^`\n]*`/g, '');
  return [
    ...[...body.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string),
    ...[...body.matchAll(/<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g)].map((m) => m[1] as string),
  ];
}

describe('links in README.md and docs/', () => {
  it('finds the pages and their links (the check itself works)', () => {
    expect(PAGES.map((p) => relative(ROOT, p))).toEqual(expect.arrayContaining(['README.md', 'docs/troubleshooting.md', 'docs/operations.md']));
    expect(anchors('# What XDR shows (CTIM mapping)\n## Look values up: `lookup`\n## Logs\n## Logs\n```\n# not a heading\n```\n'))
      .toEqual(new Set(['what-xdr-shows-ctim-mapping', 'look-values-up-lookup', 'logs', 'logs-1']));
    expect(links('[a](docs/x.md#y) ![b](docs/tiles.svg) `[c](not-a-link)` [d](https://example.com)'))
      .toEqual(['docs/x.md#y', 'docs/tiles.svg', 'https://example.com']);
  });

  for (const page of PAGES) {
    it(`${relative(ROOT, page)}: every relative link resolves`, () => {
      const text = readFileSync(page, 'utf8');
      const broken = links(text)
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
        .filter((target) => {
          const [path = '', anchor] = target.split('#');
          const file = path === '' ? page : join(dirname(page), decodeURIComponent(path));
          if (!existsSync(file)) return true;
          if (anchor === undefined || !file.endsWith('.md')) return false;
          return !anchors(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor));
        });
      expect(broken).toEqual([]);
    });
  }
});

describe('README.md and docs/ stand alone', () => {
  /** The prose a reader sees: no fenced blocks, no inline code (ids and hashes there are examples). */
  const words = (text: string): string => prose(text).replace(/`[^`\n]*`/g, '');
  const baseline = /DEFAULT_BASELINE = '([0-9a-f]+)'/.exec(readFileSync(join(ROOT, 'bench', 'speed.mjs'), 'utf8'))?.[1];
  /** What means nothing to a reader without this project's history: the contract file, its sections, issue numbers, commit ids. */
  const foreign: Array<[string, RegExp]> = [
    ['the contract file', /RELAY\.md/],
    ['a contract section', /§/],
    ['an issue number', /\bissues? #?\d+/i],
    ['a commit id', /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/],
  ];

  it('the check itself works', () => {
    expect(baseline).toMatch(/^[0-9a-f]{7,40}$/);
    const found = (text: string) => foreign.filter(([, pattern]) => pattern.test(words(text))).map(([what]) => what);
    expect(found(`see RELAY.md §4.4; issue 3's ratios; default ${baseline}`)).toEqual(['the contract file', 'a contract section', 'an issue number', 'a commit id']);
    expect(found('```\ntenant e9cee71ab932, issue 3\n```\nthe host `a1b2c3d4e5.example` in 2026, 10000 ms, account 123456789012')).toEqual([]);
  });

  for (const page of PAGES) {
    it(`${relative(ROOT, page)}: no contract citation, issue number or commit id`, () => {
      const text = words(readFileSync(page, 'utf8'));
      expect(foreign.filter(([, pattern]) => pattern.test(text)).map(([what, pattern]) => `${what}: ${pattern.exec(text)?.[0]}`)).toEqual([]);
      if (baseline !== undefined) expect(readFileSync(page, 'utf8')).not.toContain(baseline);
    });
  }
});
