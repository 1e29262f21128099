import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type MessageFormatElement, parse, TYPE } from '@formatjs/icu-messageformat-parser';
import { createIntl } from 'react-intl';
import t from 'tap';
import { LANGUAGES, pickLanguage } from '../../console/src/i18n/languages.js';
import { catalogues } from '../../console/src/i18n/messages/index.js';
import { explainFieldErrors, explainProblem, problemKind } from '../../console/src/i18n/problems.js';

// The console's message catalogues (console/src/i18n/messages/): every language has every
// id of English and no other, each message parses as ICU MessageFormat with the same
// placeholders (names and kinds) and plural forms that cover `other`, and every id is used
// somewhere in the console's code.

const SOURCES = fileURLToPath(new URL('../../console/src', import.meta.url));
const MESSAGES = join(SOURCES, 'i18n', 'messages');

/** Each placeholder of a message as "name:kind" (kind: argument, number, date, time, plural, select, tag). */
function placeholders(elements: MessageFormatElement[], into = new Set<string>()): Set<string> {
  for (const element of elements) {
    switch (element.type) {
      case TYPE.literal:
      case TYPE.pound:
        break;
      case TYPE.argument:
        into.add(`${element.value}:argument`);
        break;
      case TYPE.number:
      case TYPE.date:
      case TYPE.time:
        into.add(`${element.value}:${TYPE[element.type]}`);
        break;
      case TYPE.plural:
      case TYPE.select:
        into.add(`${element.value}:${TYPE[element.type]}`);
        for (const option of Object.values(element.options)) placeholders(option.value, into);
        break;
      case TYPE.tag:
        into.add(`${element.value}:tag`);
        placeholders(element.children, into);
        break;
    }
  }
  return into;
}

/** Plurals and selects without an `other` branch: ICU requires one, and a language's numbers may need it. */
function missingOther(elements: MessageFormatElement[]): string[] {
  const missing: string[] = [];
  for (const element of elements) {
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      if (!('other' in element.options)) missing.push(element.value);
      for (const option of Object.values(element.options)) missing.push(...missingOther(option.value));
    }
    if (element.type === TYPE.tag) missing.push(...missingOther(element.children));
  }
  return missing;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return path === MESSAGES ? [] : sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

const english = catalogues.en;
const ids = Object.keys(english);

t.test('every language has exactly the English ids', async (t) => {
  for (const language of LANGUAGES) {
    const catalogue: Record<string, string> = catalogues[language];
    t.same(
      ids.filter((id) => !(id in catalogue)),
      [],
      `${language}: no id missing`,
    );
    t.same(
      Object.keys(catalogue).filter((id) => !(id in english)),
      [],
      `${language}: no id English does not have`,
    );
    t.same(
      Object.entries(catalogue).filter(([, text]) => text.trim() === ''),
      [],
      `${language}: no empty message`,
    );
  }
});

t.test('each catalogue is its areas put together (messages/<language>/*.ts), no id in two of them', async (t) => {
  for (const language of LANGUAGES) {
    const folder = join(MESSAGES, language);
    let count = 0;
    for (const name of readdirSync(folder)) {
      const area: Record<string, Record<string, string>> = await import(pathToFileURL(join(folder, name)).href);
      for (const messages of Object.values(area)) count += Object.keys(messages).length;
    }
    // More: an id in two areas, one overwriting the other; fewer: an area left out (then an id is missing above).
    t.equal(count, ids.length, `${language}: ${readdirSync(folder).length} areas, every id in one of them`);
  }
});

t.test('each message parses, with the placeholders of the English one', async (t) => {
  for (const id of ids) {
    const source = placeholders(parse(english[id as keyof typeof english]));
    for (const language of LANGUAGES) {
      const text = (catalogues[language] as Record<string, string>)[id] ?? '';
      let elements: MessageFormatElement[];
      try {
        elements = parse(text);
      } catch (error) {
        t.fail(`${language} ${id} does not parse: ${String(error)}`);
        continue;
      }
      const found = placeholders(elements);
      if ([...source].sort().join() !== [...found].sort().join()) {
        t.fail(`${language} ${id}: placeholders ${[...found].join(', ') || 'none'}, English has ${[...source].join(', ') || 'none'}`);
      }
      const noOther = missingOther(elements);
      if (noOther.length > 0) t.fail(`${language} ${id}: ${noOther.join(', ')} without an "other" form`);
    }
  }
  t.pass(`${ids.length} messages in ${LANGUAGES.length} languages checked`);
});

t.test('the checks catch what they are for', async (t) => {
  // The checks above would pass on anything if these did not differ.
  t.not([...placeholders(parse('{count, plural, one {# day} other {# days}}'))].join(), [...placeholders(parse('{days} days'))].join());
  t.not([...placeholders(parse('Hello {name}'))].join(), [...placeholders(parse('Hallo {naam}'))].join());
  t.same(missingOther(parse('{n, plural, one {# dag}}', { requiresOtherClause: false })), ['n']);
});

t.test('every id is used in the console’s code', async (t) => {
  const code = sourceFiles(SOURCES)
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
  const unused = ids.filter((id) => !code.includes(`'${id}'`) && !code.includes(`"${id}"`));
  t.same(unused, [], 'no message that nothing shows');
  t.ok(
    sourceFiles(SOURCES).some((path) => relative(SOURCES, path) === join('i18n', 'I18n.tsx')),
    'the provider is among the files searched',
  );
});

t.test('the language: remembered, else the browser’s first that the console has, else English', async (t) => {
  t.equal(pickLanguage(null, ['nl-BE', 'en']), 'nl');
  t.equal(pickLanguage(null, ['es-ES', 'de-AT', 'fr']), 'de', 'a language the console lacks is skipped');
  t.equal(pickLanguage(null, ['FR-ca']), 'fr');
  t.equal(pickLanguage(null, ['es', 'pt-BR']), 'en');
  t.equal(pickLanguage(null, []), 'en');
  t.equal(pickLanguage('de', ['nl', 'en']), 'de', 'the switch’s choice wins');
  t.equal(pickLanguage('xx', ['fr']), 'fr', 'a remembered value the console does not know is ignored');
});

t.test('the admin API’s common refusals, explained in each language with the server’s words kept', async (t) => {
  t.equal(problemKind({ status: 400, detail: 'x' }), 'invalid');
  t.equal(problemKind({ status: 403 }), 'forbidden');
  t.equal(problemKind({ status: 404 }), 'notFound');
  t.equal(problemKind({ status: 409 }), 'conflict');
  t.equal(problemKind({ status: 429 }), 'tooMany');
  t.equal(problemKind({ status: 503 }), 'unavailable');
  t.equal(problemKind({ status: 500 }), 'server');
  t.equal(problemKind(new TypeError('Failed to fetch')), 'unreachable', 'no answer at all: the network');
  t.equal(problemKind({ detail: 'no status' }), null);
  t.equal(problemKind(undefined), null);

  const conflict = { status: 409, title: 'Conflict', detail: 'client billing already exists' };
  const explained = Object.fromEntries(
    LANGUAGES.map((language) => [
      language,
      explainProblem(createIntl({ locale: language, messages: catalogues[language] }), conflict, 'X.'),
    ]),
  );
  t.equal(
    explained.en,
    'X. It conflicts with what is there: the ID is taken, it is still in use, or someone changed it at the same time. (Portier: “client billing already exists”)',
  );
  t.match(explained.nl, /^X\. Dit botst met wat er al is/);
  t.match(explained.fr, /^X\. Cela entre en conflit/);
  t.match(explained.de, /^X\. Das steht im Konflikt/);
  for (const language of LANGUAGES)
    t.match(explained[language], 'client billing already exists', `${language}: the server’s detail is kept`);

  const dutch = createIntl({ locale: 'nl', messages: catalogues.nl });
  t.equal(explainProblem(dutch, undefined, 'Mislukt.'), 'Mislukt.', 'nothing to explain: the screen’s own sentence');
  t.match(explainProblem(dutch, new TypeError('Failed to fetch'), 'Mislukt.'), /^Mislukt\. Portier is niet bereikbaar/);
  t.same(explainFieldErrors(dutch, { status: 409, detail: 'scope in use', clients: ['a', 'a', 'b'] }, 'Mislukt.'), {
    form: [`Mislukt. ${catalogues.nl['problem.conflict']} (Portier: “scope in use”) Nog toegekend aan: a, b.`],
  });
  t.same(
    explainFieldErrors(dutch, { status: 400, detail: 'invalid', errors: [{ path: '/name', message: 'must not be empty' }] }, 'Mislukt.'),
    { name: ['must not be empty'] },
    'field errors stay next to their fields',
  );
});
