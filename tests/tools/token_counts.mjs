// Prints the gpt-tokenizer (cl100k_base) token count of each tests/data/tokenizer_corpus/*.txt as
// "file<TAB>count" lines, sorted by file name: the reference that expected_counts.tsv records and
// that the C++ token estimator is measured against.
//
// Usage: node tests/tools/token_counts.mjs > tests/data/tokenizer_corpus/expected_counts.tsv
// gpt-tokenizer is resolved from the project's .tools/ (scripts/bootstrap.sh installs it), so the
// script runs from any working directory.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpus = join(root, 'tests', 'data', 'tokenizer_corpus');

const require = createRequire(join(root, '.tools', 'package.json'));
const entry = require.resolve('gpt-tokenizer/encoding/cl100k_base');
const { encode } = await import(pathToFileURL(entry).href);

for (const name of readdirSync(corpus).filter((f) => f.endsWith('.txt')).sort()) {
  const text = readFileSync(join(corpus, name), 'utf8');
  // Special-token text such as "<|endoftext|>" counts as ordinary text, as it does in a chat
  // API's user content, instead of throwing.
  process.stdout.write(`${name}\t${encode(text, { disallowedSpecial: new Set() }).length}\n`);
}
