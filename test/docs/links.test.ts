import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import type { Nodes, Root } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { toString as textOf } from 'mdast-util-to-string';
import t from 'tap';

// The user documentation, README.md, docs/ and bench/README.md, holds together: every
// relative link and image points at a file of the repository, every #anchor at a heading
// of its page (as GitHub makes anchors: github-slugger, by the same author as remark),
// each page says first what it is for, the index lists every page, and the README stays
// short. Links to other sites are not followed (the tests run offline).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function markdownFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** The documentation's files, relative to the repository. */
const PAGES = ['README.md', ...markdownFiles('docs'), join('bench', 'README.md')];

const trees = new Map<string, Root>();
function treeOf(file: string): Root {
  let tree = trees.get(file);
  if (tree === undefined) {
    tree = fromMarkdown(readFileSync(join(ROOT, file), 'utf8'));
    trees.set(file, tree);
  }
  return tree;
}

function* walk(node: Nodes): Generator<Nodes> {
  yield node;
  if ('children' in node) for (const child of node.children) yield* walk(child);
}

/** The anchors GitHub gives the headings of a page, in order (a repeated heading gets -1, -2…). */
function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  for (const node of walk(treeOf(file))) if (node.type === 'heading') anchors.add(slugger.slug(textOf(node)));
  return anchors;
}

/** Every link, image and link definition of a page with where it points, and the line it is on. */
function linksOf(file: string): Array<{ url: string; line: number }> {
  const links: Array<{ url: string; line: number }> = [];
  for (const node of walk(treeOf(file))) {
    if (node.type === 'link' || node.type === 'image' || node.type === 'definition') {
      links.push({ url: node.url, line: node.position?.start.line ?? 0 });
    }
  }
  return links;
}

/** What is wrong with a link from `file`, or undefined when it resolves. */
function problemOf(file: string, url: string): string | undefined {
  // Another site (https:, mailto:…) or a protocol-relative URL: not followed offline.
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) return undefined;
  const hashAt = url.indexOf('#');
  const path = decodeURIComponent(hashAt < 0 ? url : url.slice(0, hashAt));
  const fragment = hashAt < 0 ? undefined : decodeURIComponent(url.slice(hashAt + 1));
  const target = path === '' ? join(ROOT, file) : path.startsWith('/') ? join(ROOT, path) : resolve(ROOT, dirname(file), path);
  if (target !== ROOT.replace(/\/$/, '') && !target.startsWith(ROOT)) return `${url} points outside the repository`;
  if (!existsSync(target)) return `${url}: no such file (${relative(ROOT, target)})`;
  if (fragment === undefined) return undefined;
  if (statSync(target).isDirectory() || !target.endsWith('.md')) {
    // GitHub's line anchors into a source file.
    return /^L\d+(-L\d+)?$/.test(fragment) ? undefined : `${url}: #${fragment} points into a file that is not Markdown`;
  }
  const page = relative(ROOT, target).split(sep).join('/');
  if (!PAGES.includes(page)) return `${url}: anchors are checked only in the documentation's own pages`;
  return anchorsOf(page).has(fragment) ? undefined : `${url}: ${page} has no heading with the anchor #${fragment}`;
}

t.test('the documentation is found', async (t) => {
  t.ok(PAGES.length >= 15, `${PAGES.length} pages: ${PAGES.join(', ')}`);
});

t.test('every relative link and anchor resolves', async (t) => {
  let checked = 0;
  for (const file of PAGES) {
    for (const { url, line } of linksOf(file)) {
      const problem = problemOf(file, url);
      if (problem !== undefined) t.fail(`${file}:${line}: ${problem}`);
      checked++;
    }
  }
  t.ok(checked > 200, `${checked} links checked`);
});

t.test('the checker itself finds broken links and anchors', async (t) => {
  t.equal(problemOf('docs/README.md', 'tokens.md#key-publication-lead'), undefined, 'a good anchor in another page');
  t.equal(problemOf('docs/tokens.md', '#discovery'), undefined, 'a good anchor in the same page');
  t.match(problemOf('docs/README.md', 'tokens.md#no-such-heading'), /no heading with the anchor/);
  t.match(problemOf('docs/README.md', 'no-such-page.md'), /no such file/);
  t.match(problemOf('docs/README.md', '../../outside.md'), /outside the repository/);
  t.equal(problemOf('docs/README.md', 'https://example.com/nowhere#x'), undefined, 'another site is not followed');
});

t.test('each page starts with its title and what it is for', async (t) => {
  for (const file of PAGES) {
    const [first, second] = treeOf(file).children;
    t.ok(first?.type === 'heading' && first.depth === 1, `${file}: a # title first`);
    t.equal(second?.type, 'paragraph', `${file}: then a paragraph saying what it is for`);
  }
});

t.test('the index links every page of docs/', async (t) => {
  const linked = new Set(linksOf('docs/README.md').map(({ url }) => url.split('#')[0]));
  for (const file of PAGES.filter((page) => page.startsWith('docs/') && page !== 'docs/README.md')) {
    t.ok(linked.has(relative('docs', file)), `docs/README.md links ${file}`);
  }
});

t.test('the README stays short, and the documentation stands on its own', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  t.ok(readme.split('\n').length <= 220, `README.md has ${readme.split('\n').length} lines (at most 220)`);
  for (const file of PAGES.filter((page) => !page.startsWith('bench'))) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    t.notOk(/\.\.\/shared|DESIGN\.md/.test(text), `${file} cites nothing outside the repository`);
  }
});
