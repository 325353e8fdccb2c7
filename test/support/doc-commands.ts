// The shell commands a deploy guide or script tells people to run, read the way a POSIX shell
// would split them, so each `aws …` / `gcloud …` command line can be handed to that CLI's own
// argument parser. Enough of the shell for our guides: quotes, \ continuations, comments,
// ; && || | and newlines, $(…) (its commands are collected too), $VAR / ${VAR…}, NAME=value and
// export, redirections (kept, so `envsubst < a > b` says which file b is), if/then/do keywords.

export interface ShellCommand {
  /** Where the command starts, for messages: "docs/deploy-gcp.md:120". */
  where: string;
  words: string[];
  stdin?: string;
  stdout?: string;
}

/** The ```sh / ```bash blocks of a Markdown text, each with the line its code starts on. */
export function shellBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', 'time']);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/**
 * The commands in `script` (from `source`, starting at `firstLine`), with variables expanded from
 * `vars`, which the script's own assignments update as they come. A variable nobody set expands
 * to "sample", as does a command substitution.
 */
export function shellCommands(script: string, vars: Map<string, string>, source: string, firstLine = 1): ShellCommand[] {
  const commands: ShellCommand[] = [];
  const text = script.replace(/\\\n/g, ' ');
  // Line numbers: count the newlines the joined continuations removed, too.
  const lineAt = (index: number) => firstLine + (script.slice(0, index + countJoins(script, index)).match(/\n/g)?.length ?? 0);

  let words: string[] = [];
  let word: string | undefined;
  let stdin: string | undefined;
  let stdout: string | undefined;
  let start = 0;

  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    while (words.length > 0 && KEYWORDS.has(words[0]!)) words.shift();
    if (words[0] === 'export') words.shift();
    if (words.length > 0 && words.every((w) => ASSIGNMENT.test(w))) {
      for (const w of words) {
        const [, name, value] = ASSIGNMENT.exec(w)!;
        vars.set(name!, value!);
      }
    } else if (words.length > 0) {
      commands.push({ where: `${source}:${lineAt(start)}`, words, stdin, stdout });
    }
    words = [];
    stdin = undefined;
    stdout = undefined;
  };
  const append = (s: string) => (word = (word ?? '') + s);

  let i = 0;
  /** Reads $NAME, ${NAME…} or $(…) at i (which holds the $); returns the expansion. */
  const expand = (): string => {
    const next = text[i + 1];
    if (next === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')' && --depth === 0) break;
      }
      commands.push(...shellCommands(text.slice(i + 2, j), vars, source, lineAt(i)));
      i = j + 1;
      return 'sample';
    }
    if (next === '{') {
      const close = text.indexOf('}', i);
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 2, close))?.[0] ?? '';
      i = close + 1;
      return vars.get(name) ?? 'sample';
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (!name) {
      i++;
      return '$';
    }
    i += 1 + name.length;
    return vars.get(name) ?? 'sample';
  };

  while (i < text.length) {
    const c = text[i]!;
    if (word === undefined && words.length === 0 && /\s/.test(c)) {
      start = i + 1;
      if (c === '\n') endCommand();
      i++;
      continue;
    }
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      append(text.slice(i + 1, close));
      i = close + 1;
    } else if (c === '"') {
      append('');
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          append(text[i + 1]!);
          i += 2;
        } else if (text[i] === '$') append(expand());
        else append(text[i++]!);
      }
      i++;
    } else if (c === '$') {
      append(expand());
    } else if (c === '#' && word === undefined) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '>' || c === '<') {
      if (word !== undefined && /^\d+$/.test(word)) word = undefined;
      endWord();
      while (text[i] === '>' || text[i] === '<' || text[i] === '&') i++;
      while (text[i] === ' ') i++;
      let target = '';
      while (i < text.length && !/[\s;|&]/.test(text[i]!)) target += text[i++];
      if (c === '<') stdin = target;
      else if (!/^\d+$/.test(target)) stdout = target;
    } else if (c === ';' || c === '|' || c === '&' || c === '\n') {
      endCommand();
      while (text[i] === ';' || text[i] === '|' || text[i] === '&') i++;
      if (text[i] === '\n') i++;
      start = i;
    } else if (/\s/.test(c)) {
      endWord();
      i++;
    } else if (c === '\\' && i + 1 < text.length) {
      append(text[i + 1]!);
      i += 2;
    } else {
      append(c);
      i++;
    }
  }
  endCommand();
  return commands;
}

/** How many "\\\n" continuations lie before `index` in the joined text. */
function countJoins(script: string, index: number): number {
  let joins = 0;
  let position = script.indexOf('\\\n');
  while (position >= 0 && position - joins * 2 < index) {
    joins++;
    position = script.indexOf('\\\n', position + 2);
  }
  return joins * 2;
}
