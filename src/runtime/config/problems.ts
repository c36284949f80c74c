/**
 * Configuration problems: one shape for every way robot.yaml, a policy manifest or a model can be
 * wrong, so that startup can report all of them at once, each naming the file, the field, what is
 * wrong and how to fix it. A person at the robot reads these, not a stack trace.
 */
import path from 'node:path';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';

export interface ConfigProblem {
  /** The file to edit. */
  file: string;
  /** Field path inside the file, e.g. `joints[2].limits.velocity`; `(file)` for the file as a whole. */
  path: string;
  message: string;
  fix: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** `warning`: legal but almost certainly a mistake; reported, never refused. Absent: an error. */
  severity?: 'warning';
}

export type FieldPath = readonly PropertyKey[];

/** Relative paths read better and are still clickable in a terminal; far-away files stay absolute. */
export function displayFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? displayFile(p.file) : `${displayFile(p.file)}:${p.line}`;
  return `${where}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.path}: ${p.message} — fix: ${p.fix}`;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], summary?: string) {
    const head =
      summary ??
      (problems.length === 1 ? 'configuration has 1 problem' : `configuration has ${problems.length} problems`);
    super([`${head}:`, ...problems.map((p) => `  ${formatProblem(p)}`)].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `['joints', 2, 'limits', 'velocity']` → `joints[2].limits.velocity`. */
export function formatPath(fieldPath: FieldPath): string {
  let out = '';
  for (const seg of fieldPath) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(top level)' : out;
}

// ---------------------------------------------------------------------------------------------
// YAML

/** A parsed YAML file that still knows where each value came from. */
export interface YamlSource {
  file: string;
  data: unknown;
  /** Line of the value at `fieldPath`, or of its nearest existing ancestor. */
  lineOf(fieldPath: FieldPath): number | undefined;
}

function yamlFix(code: string, sourceLine: string | undefined): string {
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'indent with spaces; YAML does not allow tabs for indentation';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation and the `:` after each key; siblings must line up exactly';
    case 'DUPLICATE_KEY':
      return 'remove or rename one of the two entries with this key';
    case 'MULTILINE_IMPLICIT_KEY':
    case 'BLOCK_AS_IMPLICIT_KEY':
      return 'put a `:` and a space after the key, and keep each key on one line';
    case 'UNEXPECTED_TOKEN':
      return sourceLine !== undefined && /[[{]/.test(sourceLine) && !/[\]}]/.test(sourceLine)
        ? 'close the bracket that is opened on this line'
        : 'check brackets, quotes and `key: value` spacing on this line';
    case 'BAD_SCALAR_START':
      return 'quote the value, e.g. `"@value"`';
    case 'BAD_DQ_ESCAPE':
      return 'fix the backslash escape or use single quotes';
    default:
      return 'fix the YAML syntax on this line (see the message); a YAML linter shows the exact spot';
  }
}

/**
 * How many nodes alias references may expand to (yaml's `maxAliasCount`, its default made explicit):
 * a hand-written robot.yaml or manifest needs a handful, an alias bomb needs billions.
 */
export const MAX_YAML_ALIAS_COUNT = 100;

export type YamlParseResult = { ok: true; source: YamlSource } | { ok: false; problems: ConfigProblem[] };

export function parseYamlText(text: string, file: string): YamlParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const lines = text.split(/\r?\n/);
    const problems = doc.errors.map((err): ConfigProblem => {
      const pos = err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
      const sourceLine = lines[pos.line - 1];
      // prettyErrors appends "at line L, column C:" and a code excerpt; the location is in the fields.
      const reason = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      const excerpt = sourceLine === undefined ? '' : ` (line ${pos.line}: ${JSON.stringify(sourceLine.trim())})`;
      return {
        file,
        path: `line ${pos.line}, column ${pos.col}`,
        line: pos.line,
        message: `YAML syntax error: ${reason}${excerpt}`,
        fix: yamlFix(err.code, sourceLine),
      };
    });
    return { ok: false, problems };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    // toJS refuses alias bombs and unresolvable aliases, which parse as valid syntax.
    const reason = err instanceof Error ? err.message : String(err);
    if (/excessive alias count/i.test(reason)) {
      return {
        ok: false,
        problems: [
          {
            file,
            path: '(file)',
            message: `too many YAML aliases: resolving its \`*alias\` references would expand to more than ${MAX_YAML_ALIAS_COUNT} nodes (yaml maxAliasCount), the shape of an alias bomb ("billion laughs")`,
            fix: 'write the values out instead of nesting `&anchor` / `*alias` references; configuration files need no aliases',
          },
        ],
      };
    }
    return { ok: false, problems: [{ file, path: '(file)', message: `YAML cannot be resolved: ${reason}`, fix: 'check the `&anchor` / `*alias` references; plain values are simpler here' }] };
  }
  return { ok: true, source: { file, data, lineOf: (p) => lineOfPath(doc, lineCounter, p) } };
}

/** Largest configuration file read (robot.yaml, policy manifests, HIL scenarios): real ones are a few KiB. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}

function fileProblem(file: string, message: string, fix: string): YamlParseResult {
  return { ok: false, problems: [{ file, path: '(file)', message, fix }] };
}

function tooLarge(file: string, bytes: number, cap: number): YamlParseResult {
  return fileProblem(
    file,
    `file is ${bytes} bytes (${sizeText(bytes)}), larger than the ${sizeText(cap)} (${cap} bytes) a configuration file may be; it was not read`,
    'check that this is the right file (a robot description or policy manifest is a few KiB, not a log, model or data set); cut it down below the cap',
  );
}

/**
 * Reads a YAML configuration file. The size is checked on the open descriptor before anything is
 * read, and the read stops one byte past the cap, so a huge (or growing, or endless) file costs
 * neither time nor memory: it is refused with its size.
 */
export function readYamlFile(file: string, maxBytes = MAX_CONFIG_FILE_BYTES): YamlParseResult {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? fileProblem(file, 'file not found', `check the path; it was resolved to ${path.resolve(file)}`)
      : fileProblem(file, `cannot read file (${code ?? String(err)})`, 'check the file permissions');
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return fileProblem(file, stat.isDirectory() ? 'is a directory, not a file' : 'is not a regular file', 'point at the YAML file itself');
    if (stat.size > maxBytes) return tooLarge(file, stat.size, maxBytes);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) return tooLarge(file, Math.max(length, fstatSync(fd).size), maxBytes);
    text = buffer.toString('utf8', 0, length);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fileProblem(file, `cannot read file (${code ?? String(err)})`, 'check the file permissions');
  } finally {
    closeSync(fd);
  }
  return parseYamlText(text, file);
}

function lineOfPath(doc: Document, counter: LineCounter, fieldPath: FieldPath): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  for (const [depth, seg] of fieldPath.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (isScalar(it.key) ? it.key.value === seg : it.key === seg));
      // A missing top-level key has no natural line; the first line of the file would mislead.
      if (pair === undefined && depth === 0) return undefined;
      if (pair === undefined) break;
      const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
      if (keyRange) offset = keyRange[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      const range = (item as { range?: [number, number, number] }).range;
      if (range) offset = range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

// ---------------------------------------------------------------------------------------------
// zod issues → problems

type Issue = z.core.$ZodIssue;

export interface IssueContext {
  file: string;
  /** The schema the data was parsed with; lets fixes name the allowed keys and the expected form. */
  schema?: z.ZodType;
  /** The data as parsed from YAML; tells a missing field from a wrong one. */
  data?: unknown;
  lineOf?: (fieldPath: FieldPath) => number | undefined;
}

function describe(schema: z.ZodType | undefined): string | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined && i < 8; i++) {
    const d = z.globalRegistry.get(s)?.description;
    if (d !== undefined) return d;
    s = unwrapOnce(s);
  }
  return undefined;
}

function unwrapOnce(s: z.ZodType): z.ZodType | undefined {
  if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) {
    return s.unwrap() as z.ZodType;
  }
  if (s instanceof z.ZodPrefault || s instanceof z.ZodNonOptional || s instanceof z.ZodReadonly) {
    return s._zod.def.innerType as z.ZodType;
  }
  if (s instanceof z.ZodPipe) return s._zod.def.in as z.ZodType;
  return undefined;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let next = unwrapOnce(cur); next !== undefined; next = unwrapOnce(cur)) cur = next;
  return cur;
}

function isOptional(s: z.ZodType): boolean {
  return s._zod.optin !== undefined;
}

function valueAt(data: unknown, fieldPath: FieldPath): { found: boolean; value: unknown } {
  let cur: unknown = data;
  for (const seg of fieldPath) {
    if (cur === null || typeof cur !== 'object' || !(seg in cur)) return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { found: true, value: cur };
}

/** The schema that governs the value at `fieldPath`, following discriminated unions through the data. */
function schemaAt(root: z.ZodType | undefined, fieldPath: FieldPath, data: unknown): z.ZodType | undefined {
  let s = root;
  for (let i = 0; s !== undefined && i < fieldPath.length; i++) {
    const seg = fieldPath[i];
    s = selectBranch(unwrap(s), valueAt(data, fieldPath.slice(0, i)).value);
    if (s instanceof z.ZodObject && typeof seg === 'string') s = (s.shape as Record<string, z.ZodType>)[seg];
    else if (s instanceof z.ZodArray && typeof seg === 'number') s = s.element as z.ZodType;
    else if (s instanceof z.ZodTuple && typeof seg === 'number') s = s._zod.def.items[seg] as z.ZodType | undefined;
    else return undefined;
  }
  return s;
}

/** Unions are resolved by their discriminator when the data names a known branch. */
function selectBranch(s: z.ZodType, value: unknown): z.ZodType {
  if (!(s instanceof z.ZodDiscriminatedUnion)) return s;
  const key = s._zod.def.discriminator;
  const tag = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  for (const option of s.options as z.ZodType[]) {
    const opt = unwrap(option);
    if (opt instanceof z.ZodObject) {
      const lit = unwrap((opt.shape as Record<string, z.ZodType>)[key]);
      if (lit instanceof z.ZodLiteral && lit.values.has(tag as never)) return opt;
    }
  }
  return s;
}

function allowedValues(s: z.ZodType | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  const u = unwrap(s);
  if (u instanceof z.ZodEnum) return (u.options as unknown[]).map(String);
  if (u instanceof z.ZodLiteral) return [...u.values].map(String);
  return undefined;
}

/** A short YAML-ish example of a value the schema accepts, for "add `x: ...`" fixes. */
export function exampleOf(schema: z.ZodType | undefined, depth = 0): string {
  if (schema === undefined) return '...';
  const s = unwrap(schema);
  if (s instanceof z.ZodNumber) return s.isInt ? '<integer>' : '<number>';
  if (s instanceof z.ZodString) return '<text>';
  if (s instanceof z.ZodBoolean) return 'true';
  const values = allowedValues(s);
  if (values !== undefined) return values.length === 1 ? values[0] : values.join('|');
  if (s instanceof z.ZodTuple) return `[${(s._zod.def.items as z.ZodType[]).map((it) => exampleOf(it, depth + 1)).join(', ')}]`;
  if (s instanceof z.ZodArray) return depth > 1 ? '[...]' : `[${exampleOf(s.element as z.ZodType, depth + 1)}, ...]`;
  if (s instanceof z.ZodDiscriminatedUnion) {
    const key = s._zod.def.discriminator;
    const tags = (s.options as z.ZodType[]).flatMap((o) => {
      const obj = unwrap(o);
      return obj instanceof z.ZodObject ? (allowedValues((obj.shape as Record<string, z.ZodType>)[key]) ?? []) : [];
    });
    return `{ ${key}: ${tags.join('|')} }`;
  }
  if (s instanceof z.ZodObject) {
    if (depth > 1) return '{ ... }';
    const required = Object.entries(s.shape as Record<string, z.ZodType>).filter(([, v]) => !isOptional(v));
    if (required.length === 0) return '{}';
    return `{ ${required.map(([k, v]) => `${k}: ${exampleOf(v, depth + 1)}`).join(', ')} }`;
  }
  return '...';
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The closest candidate when it is close enough to be a typo, else undefined. */
export function didYouMean(value: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(value.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(value.length / 3)) ? best : undefined;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return `the text ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a section (mapping)';
  return `${typeof value} ${String(value)}`;
}

const expectedWords: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a section (mapping)',
};

function fixForCustom(message: string, key: string): string {
  if (/greater than zero|> 0/.test(message)) return `set \`${key}\` to a number greater than zero`;
  if (/zero or more/.test(message)) return `set \`${key}\` to 0 or a positive number`;
  if (/finite/.test(message)) return `set \`${key}\` to an ordinary number (not .inf or .nan)`;
  const atMost = /at most ([\d.]+)/.exec(message);
  if (atMost) return `set \`${key}\` to ${atMost[1]} or less`;
  const range = /in (\(.*\])/.exec(message);
  if (range) return `set \`${key}\` to a value in ${range[1]}`;
  return /^must /.test(message) ? `change \`${key}\`: it ${message}` : `change \`${key}\` (${message})`;
}

function bound(n: number | bigint): string {
  return String(n);
}

/** One zod issue can name several fields (unknown keys), hence an array. */
function issueToProblems(issue: Issue, ctx: IssueContext): ConfigProblem[] {
  const fieldPath = issue.path;
  const key = fieldPath.length === 0 ? 'the file' : String(fieldPath[fieldPath.length - 1]);
  const keyName = typeof fieldPath[fieldPath.length - 1] === 'number' ? formatPath(fieldPath) : key;
  const schema = schemaAt(ctx.schema, fieldPath, ctx.data);
  const desc = describe(schema);
  const note = desc === undefined ? '' : ` (${desc})`;
  const at = ctx.data === undefined ? { found: true, value: undefined } : valueAt(ctx.data, fieldPath);
  const make = (p: FieldPath, message: string, fix: string): ConfigProblem => {
    const line = ctx.lineOf?.(p);
    return { file: ctx.file, path: formatPath(p), message, fix, ...(line === undefined ? {} : { line }) };
  };

  switch (issue.code) {
    case 'invalid_type': {
      const missing = ctx.data === undefined ? /received undefined/.test(issue.message) : !at.found;
      if (fieldPath.length === 0) {
        return [make(fieldPath, `the file holds ${show(at.value)}, not a YAML mapping`, 'start from an example file, e.g. robots/sim-arm.yaml')];
      }
      if (missing) {
        return [make(fieldPath, `required field \`${key}\` is missing`, `add \`${key}: ${exampleOf(schema)}\`${note}`)];
      }
      if (issue.expected === 'int' && typeof at.value === 'number') {
        return [make(fieldPath, `must be a whole number, got ${at.value}`, `use a whole number, e.g. \`${key}: ${Math.round(at.value)}\``)];
      }
      const expected = expectedWords[issue.expected] ?? issue.expected;
      return [
        make(fieldPath, `expected ${expected}, got ${show(at.value)}`, `write \`${keyName}\` as ${exampleOf(schema)}${note}`),
      ];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const limit = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'array' || issue.origin === 'set') {
        const count = Array.isArray(at.value) ? at.value.length : undefined;
        const got = count === undefined ? '' : `, got ${count}`;
        const u = schema === undefined ? undefined : unwrap(schema);
        if (u instanceof z.ZodTuple) {
          const n = u._zod.def.items.length;
          return [make(fieldPath, `needs exactly ${n} items${got}`, `write \`${keyName}: ${exampleOf(u)}\`${note}`)];
        }
        return small
          ? [make(fieldPath, `needs at least ${bound(limit)} item(s)${got}`, `add entries to \`${keyName}\`, e.g. ${exampleOf(schema)}${note}`)]
          : [make(fieldPath, `allows at most ${bound(limit)} item(s)${got}`, `remove entries from \`${keyName}\``)];
      }
      if (issue.origin === 'string') {
        return small
          ? [make(fieldPath, `must be at least ${bound(limit)} character(s) long`, `give \`${keyName}\` a non-empty value${note}`)]
          : [make(fieldPath, `must be at most ${bound(limit)} characters long`, `shorten \`${keyName}\``)];
      }
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      const got = typeof at.value === 'number' ? `, got ${at.value}` : '';
      return [make(fieldPath, `must be ${op} ${bound(limit)}${got}`, `set \`${keyName}\` to a value ${op} ${bound(limit)}${note}`)];
    }
    case 'invalid_format': {
      const got = typeof at.value === 'string' ? JSON.stringify(at.value) : 'the value';
      const custom = !/^Invalid/.test(issue.message);
      const fix = custom ? issue.message : issue.pattern ? `match the pattern ${issue.pattern}` : `use a valid ${issue.format}`;
      const snake =
        typeof at.value === 'string' && issue.pattern?.includes('a-z][a-z0-9_]')
          ? at.value.trim().replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase().replace(/^_+|_+$/g, '')
          : undefined;
      const suggestion = snake !== undefined && /^[a-z][a-z0-9_]*$/.test(snake) ? ` (e.g. \`${snake}\`)` : '';
      return [make(fieldPath, `${got} is not a valid ${key}`, `${fix}${suggestion}`)];
    }
    case 'unrecognized_keys': {
      const obj = schema === undefined ? undefined : selectBranch(unwrap(schema), at.value);
      const allowed = obj instanceof z.ZodObject ? Object.keys(obj.shape as Record<string, unknown>) : [];
      return issue.keys.map((k) => {
        const guess = didYouMean(k, allowed);
        const hint = guess === undefined ? '' : `did you mean \`${guess}\`? `;
        const list = allowed.length > 0 ? `; allowed keys here: ${allowed.join(', ')}` : '';
        return make([...fieldPath, k], `unknown key \`${k}\``, `${hint}remove it or check its spelling${list}`);
      });
    }
    case 'invalid_value': {
      const values = issue.values.map(String);
      const guess = typeof at.value === 'string' ? didYouMean(at.value, values) : undefined;
      if (!at.found) {
        return [make(fieldPath, `required field \`${key}\` is missing`, `add \`${key}: ${values.join('|')}\`${note}`)];
      }
      return [
        make(
          fieldPath,
          `${JSON.stringify(at.value)} is not allowed`,
          `${guess === undefined ? '' : `did you mean \`${guess}\`? `}use one of: ${values.join(', ')}`,
        ),
      ];
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined) {
        const options = ('options' in issue && Array.isArray(issue.options) ? issue.options : []).map(String);
        if (!at.found || at.value === undefined) {
          return [make(fieldPath, `\`${key}\` is missing`, `add \`${key}: ${options.join('|')}\` (one of: ${options.join(', ')})`)];
        }
        const guess = typeof at.value === 'string' ? didYouMean(at.value, options) : undefined;
        return [
          make(
            fieldPath,
            `unknown ${key} ${JSON.stringify(at.value)}`,
            `${guess === undefined ? '' : `did you mean \`${guess}\`? `}use one of: ${options.join(', ')}`,
          ),
        ];
      }
      // A plain union: report the branch that came closest, it is most likely the one meant.
      const branches = issue.errors.filter((e) => e.length > 0);
      if (branches.length > 0) {
        const closest = branches.reduce((a, b) => (b.length < a.length ? b : a));
        return closest.flatMap((sub) => issueToProblems({ ...sub, path: [...fieldPath, ...sub.path] } as Issue, ctx));
      }
      return [make(fieldPath, 'matches none of the allowed forms', `write \`${keyName}\` as ${exampleOf(schema)}${note}`)];
    }
    case 'not_multiple_of':
      return [make(fieldPath, `must be a multiple of ${issue.divisor}`, `round \`${keyName}\` to a multiple of ${issue.divisor}`)];
    case 'custom': {
      const got = typeof at.value === 'number' ? ` (got ${at.value})` : '';
      return [make(fieldPath, `${issue.message}${got}`, fixForCustom(issue.message, keyName) + note)];
    }
    default:
      return [make(fieldPath, issue.message, `correct \`${keyName}\`; \`embody schema\` prints the allowed form`)];
  }
}

export function zodIssuesToProblems(issues: readonly Issue[], ctx: IssueContext): ConfigProblem[] {
  return issues.flatMap((issue) => issueToProblems(issue, ctx));
}

/** Parse YAML data with a schema; problems carry file, field path, line and a fix. */
export function validateSource<S extends z.ZodType>(
  schema: S,
  source: YamlSource,
): { ok: true; value: z.output<S> } | { ok: false; problems: ConfigProblem[] } {
  const result = schema.safeParse(source.data);
  if (result.success) return { ok: true, value: result.data };
  const problems = zodIssuesToProblems(result.error.issues, {
    file: source.file,
    schema,
    data: source.data,
    lineOf: source.lineOf,
  });
  return { ok: false, problems: sortByLine(problems) };
}

/** Within a file, top-to-bottom order is the order a person fixes things in. */
export function sortByLine(problems: ConfigProblem[]): ConfigProblem[] {
  const fileOrder = new Map<string, number>();
  for (const p of problems) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  return problems
    .map((p, i) => ({ p, i }))
    .sort(
      (a, b) =>
        (fileOrder.get(a.p.file) ?? 0) - (fileOrder.get(b.p.file) ?? 0) ||
        (a.p.line ?? Infinity) - (b.p.line ?? Infinity) ||
        a.i - b.i,
    )
    .map(({ p }) => p);
}

/** Builds problems for semantic checks, attaching YAML line numbers when the source is at hand. */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];

  constructor(
    readonly file: string,
    private readonly lineOf?: (fieldPath: FieldPath) => number | undefined,
  ) {}

  add(fieldPath: FieldPath, message: string, fix: string, severity?: 'warning'): void {
    const line = this.lineOf?.(fieldPath);
    this.problems.push({ file: this.file, path: formatPath(fieldPath), message, fix, ...(line === undefined ? {} : { line }), ...(severity === undefined ? {} : { severity }) });
  }
}

/** Line numbers for a file that was already validated elsewhere; silently none if it cannot be read. */
export function lineLookup(file: string): ((fieldPath: FieldPath) => number | undefined) | undefined {
  const parsed = readYamlFile(file);
  return parsed.ok ? parsed.source.lineOf : undefined;
}
