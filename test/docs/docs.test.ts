import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMAND_USAGE } from '../../src/cli/usage.js';

/**
 * The docs stand alone: everything they cite is in the repository, and the
 * commands they show exist. A finding is reported as `file:line: what`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const THIS_FILE = relative(ROOT, fileURLToPath(import.meta.url));

interface Line {
  readonly file: string;
  readonly number: number;
  readonly text: string;
  readonly inFence: boolean;
}

function filesUnder(dir: string, extension: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith(extension))
    .map((name) => join(dir, name))
    .sort();
}

function linesOf(file: string): Line[] {
  let inFence = false;
  return readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .map((text, index) => {
      const fence = /^\s*```/.test(text);
      if (fence) inFence = !inFence;
      return { file, number: index + 1, text, inFence: inFence && !fence };
    });
}

const DOCS = ['README.md', ...filesUnder('docs', '.md')];
const docLines = DOCS.flatMap(linesOf);
const at = (line: Line, what: string): string => `${line.file}:${line.number}: ${what}`;

/** The project's spec and seed files live outside the repository; what the docs rely on must be written into docs/. */
const SPEC_CITATION = /\bCONTRACT\b|ARCHITECTURE\.md|pushwoosh-reference|seed document|\.\.\/(?:shared|seeds)\//;

function specCitations(lines: readonly Line[]): string[] {
  return lines.filter((line) => SPEC_CITATION.test(line.text)).map((line) => at(line, line.text.trim()));
}

/** A repository path: a top-level folder at a word boundary, up to a space, quote, bracket or pipe. */
const REPOSITORY_PATH = /(?<![\w./-])(?:src|test|bench|docs|\.ci)\/[^\s`'"()<>|[\]]*/g;

/** `a/{b,c}/d` → `a/b/d`, `a/c/d`. */
function expandBraces(path: string): string[] {
  const group = /\{([^{}]*)\}/.exec(path);
  if (!group) return [path];
  const [before, after] = [path.slice(0, group.index), path.slice(group.index + group[0].length)];
  return (group[1] as string).split(',').flatMap((choice) => expandBraces(before + choice + after));
}

/** Whether a path, with `*` wildcards inside its segments, names at least one file or folder. */
function pathExists(path: string): boolean {
  let candidates = [''];
  for (const segment of path.split('/').filter(Boolean)) {
    if (!segment.includes('*')) {
      candidates = candidates.map((dir) => join(dir, segment));
      continue;
    }
    const pattern = new RegExp(`^${segment.split('*').map(escapeRegExp).join('.*')}$`);
    candidates = candidates.flatMap((dir) =>
      existsSync(join(ROOT, dir))
        ? readdirSync(join(ROOT, dir))
            .filter((name) => pattern.test(name))
            .map((name) => join(dir, name))
        : [],
    );
  }
  return candidates.some((candidate) => existsSync(join(ROOT, candidate)));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function missingPaths(lines: readonly Line[]): string[] {
  return lines.flatMap((line) =>
    [...line.text.matchAll(REPOSITORY_PATH)]
      .map((match) => match[0].replace(/[.,:;…]+$/, ''))
      .filter((cited) => !expandBraces(cited).every(pathExists))
      .map((cited) => at(line, `${cited} does not exist`)),
  );
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of linesOf(file)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line.text);
    if (!heading || line.inFence) continue;
    const base = (heading[1] as string)
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n += 1) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g;

function brokenLinks(lines: readonly Line[]): string[] {
  return lines.flatMap((line) =>
    [...line.text.matchAll(MARKDOWN_LINK)].flatMap((match) => {
      const target = match[1] as string;
      if (/^[a-z]+:/i.test(target)) return [];
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? line.file : join(dirname(line.file), path);
      if (!existsSync(join(ROOT, file))) return [at(line, `link to ${target}: ${file} does not exist`)];
      if (anchor === undefined || !file.endsWith('.md')) return [];
      return anchorsOf(file).has(anchor) ? [] : [at(line, `link to ${target}: ${file} has no heading #${anchor}`)];
    }),
  );
}

/** The commands of `journeyd`, read from its usage text: `tokens create`, `channels list|set|reset`, … */
function cliCommands(): Map<string, Set<string>> {
  const commands = new Map<string, Set<string>>();
  for (const [, command, subcommands] of Object.values(COMMAND_USAGE)
    .join('\n')
    .matchAll(/^ {2}([a-z-]+)(?: ([a-z|-]+))?/gm)) {
    const known = commands.get(command as string) ?? new Set<string>();
    for (const sub of subcommands?.split('|') ?? []) known.add(sub);
    commands.set(command as string, known);
  }
  return commands;
}

/** A code block's line, or a line's code spans: where a doc shows a command. */
function codeOf(line: Line): string[] {
  return line.inFence ? [line.text] : [...line.text.matchAll(/`([^`]+)`/g)].map((span) => span[1] as string);
}

/** What is wrong with each `npm run <script> [<suite>]` in a snippet. */
function npmProblems(snippet: string, scripts: object, suites: readonly string[]): string[] {
  return [...snippet.matchAll(/\bnpm run ([\w:-]+)(?: ([\w-]+))?/g)].flatMap(([, script = '', suite]) => {
    if (!Object.hasOwn(scripts, script)) return [`npm run ${script}: package.json has no such script`];
    if (script === 'bench' && suite !== undefined && !suites.includes(suite)) {
      return [`npm run bench ${suite}: bench/suites/ has no such suite`];
    }
    return [];
  });
}

/** What is wrong with each `journeyd <command> [<subcommand>]` in a snippet. */
function cliProblems(snippet: string, cli: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const uses = snippet.matchAll(/(?:^|[\s=])journeyd ([a-z][a-z-]*)(?: ([a-z-]+))?/g);
  return [...uses].flatMap(([, command = '', sub = '']) => {
    const subcommands = cli.get(command);
    if (!subcommands) return [`journeyd ${command}: no such command`];
    if (subcommands.size > 0 && !subcommands.has(sub)) {
      return [`journeyd ${command} ${sub}: ${command} takes ${[...subcommands].join(', ')}`];
    }
    return [];
  });
}

function missingCommands(lines: readonly Line[]): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: object };
  const suites = filesUnder('bench/suites', '.ts').map((file) => file.slice('bench/suites/'.length, -'.ts'.length));
  const cli = cliCommands();
  return lines.flatMap((line) =>
    codeOf(line)
      .flatMap((snippet) => [...npmProblems(snippet, scripts, suites), ...cliProblems(snippet, cli)])
      .map((problem) => at(line, problem)),
  );
}

const DOCS_PATH = /(?<![\w./-])docs\/[\w./-]*/g;

describe('docs stand alone', () => {
  it('no doc cites the spec files outside the repository', () => {
    assert.deepEqual(specCitations(docLines), []);
  });

  it('every repository path a doc cites exists', () => {
    assert.deepEqual(missingPaths(docLines), []);
  });

  it('every link between docs reaches a file and a heading that exist', () => {
    assert.deepEqual(brokenLinks(docLines), []);
  });

  it('every npm script, bench suite and journeyd command a doc shows exists', () => {
    assert.deepEqual(missingCommands(docLines), []);
  });

  it('README links every page of docs/, so each can be found', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.deepEqual(
      DOCS.filter((file) => file !== 'README.md' && !readme.includes(`](${file})`)),
      [],
    );
  });

  it('source comments cite docs pages that exist, never the spec files', () => {
    const sourceLines = ['src', 'test', 'bench']
      .flatMap((dir) => filesUnder(dir, '.ts'))
      .filter((file) => file !== THIS_FILE)
      .flatMap(linesOf);
    // Only their docs/ citations: code also names paths it builds at run time, which need not exist.
    const docsCitations = sourceLines.map((line) => ({ ...line, text: line.text.match(DOCS_PATH)?.join(' ') ?? '' }));
    assert.deepEqual([...specCitations(sourceLines), ...missingPaths(docsCitations)], []);
  });
});
