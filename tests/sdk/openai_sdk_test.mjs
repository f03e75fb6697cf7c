// Drives the gateway with the official OpenAI Node SDK (`openai` on npm), as any client would:
// chat (JSON and streaming), completions, embeddings, model listing and error handling, through
// real inventory, decision, gateway and fake-llm processes on loopback.
//
// Usage: node openai_sdk_test.mjs <build dir> <node_modules dir>. Exit 77 (skipped) when the
// SDK is not installed (scripts/bootstrap.sh installs it into .tools/).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [buildDir, modulesDir] = process.argv.slice(2).map((p) => path.resolve(p));
const require = createRequire(path.join(modulesDir, 'noop.js'));
let OpenAI;
try {
  OpenAI = require('openai');
} catch {
  console.log(`SKIP: the openai package is not installed in ${modulesDir}`);
  process.exit(77);
}

const model = 'llama-3.1-8b-instruct';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmrouter-sdk-'));
const children = [];

async function start(name, binary, args) {
  const ready = path.join(dir, `${name}.ready`);
  const log = fs.openSync(path.join(dir, `${name}.log`), 'w');
  const child = spawn(path.join(buildDir, binary), [...args, `--ready_file=${ready}`],
                      { stdio: ['ignore', log, log] });
  children.push(child);
  for (let i = 0; i < 1500; ++i) {
    if (fs.existsSync(ready)) return JSON.parse(fs.readFileSync(ready, 'utf8'));
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${name} did not start; see ${dir}/${name}.log`);
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
process.on('exit', stopAll);

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

async function main() {
  const fake = await start('fake-llm', 'tools/fake-llm/fake-llm',
                           ['--port=0', `--model=${model}`, '--name=sdk-backend',
                            '--completion_tokens=6']);
  fs.writeFileSync(path.join(dir, 'endpoints.yaml'),
                   `endpoints:\n  - {id: sdk, model: ${model}, address: "127.0.0.1:${fake.http_port}"}\n`);
  fs.writeFileSync(path.join(dir, 'policy.yaml'), `models:\n  - name: ${model}\n    aliases: [small]\n`);
  const inventory = await start('inventory', 'services/inventory/inventory',
                                ['--grpc_port=0', '--metrics_port=0', '--host=127.0.0.1',
                                 `--endpoints_file=${dir}/endpoints.yaml`]);
  const decision = await start('decision', 'services/decision/decision',
                               ['--grpc_port=0', '--metrics_port=0', '--host=127.0.0.1',
                                `--db=${dir}/decision.db`, `--policy_file=${dir}/policy.yaml`,
                                `--inventory_target=127.0.0.1:${inventory.grpc_port}`]);
  const keyDigest = (await import('node:crypto')).createHash('sha256').update('sk-sdk-test').digest('hex');
  fs.writeFileSync(path.join(dir, 'keys.txt'), `${keyDigest} sdk-tenant\n`);
  const gateway = await start('gateway', 'services/gateway/gateway',
                              ['--http_port=0', '--metrics_port=0', '--host=127.0.0.1',
                               `--decision_target=127.0.0.1:${decision.grpc_port}`,
                               `--inventory_target=127.0.0.1:${inventory.grpc_port}`,
                               `--api_keys_file=${dir}/keys.txt`]);
  const baseURL = `http://127.0.0.1:${gateway.http_port}/v1`;
  const client = new OpenAI({ apiKey: 'sk-sdk-test', baseURL, maxRetries: 0 });

  // Decision routes once its first inventory snapshot has arrived.
  for (let i = 0; ; ++i) {
    try {
      await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      break;
    } catch (e) {
      if (i > 250) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('chat completion (JSON)', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'small', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 4 })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, model);
    assert.ok(data.choices[0].message.content.length > 0);
    assert.ok(data.usage.completion_tokens > 0);
    assert.equal(response.headers.get('x-router-model'), model);
    assert.equal(response.headers.get('x-router-endpoint'), 'sdk');
  });

  test('chat completion (streaming, with usage)', async () => {
    const stream = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'Say hi' }], stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      ++chunks;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks >= 3, `only ${chunks} chunks`);
    assert.ok(text.length > 0);
    assert.ok(usage && usage.completion_tokens > 0, 'no usage in the final chunk');
  });

  test('text completion', async () => {
    const completion = await client.completions.create({ model, prompt: 'Once upon', max_tokens: 3 });
    assert.equal(completion.object, 'text_completion');
    assert.ok(completion.choices[0].text.length > 0);
  });

  test('embeddings', async () => {
    const result = await client.embeddings.create({ model, input: ['a', 'b'] });
    assert.equal(result.object, 'list');
    assert.equal(result.data.length, 2);
    assert.ok(result.data[0].embedding.length > 0);
  });

  test('model listing', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes(model), JSON.stringify(ids));
  });

  test('unknown model is NotFoundError', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
  });

  test('bad API key is AuthenticationError', async () => {
    const stranger = new OpenAI({ apiKey: 'sk-wrong', baseURL, maxRetries: 0 });
    await assert.rejects(
      stranger.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
  });

  test('malformed request is BadRequestError', async () => {
    await assert.rejects(
      client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /model/.test(e.message));
  });

  let failed = 0;
  for (const { name, fn } of tests) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      ++failed;
      console.log(`FAIL ${name}: ${e.stack ?? e}`);
    }
  }
  console.log(`${tests.length - failed}/${tests.length} passed; logs in ${dir}`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => { stopAll(); process.exit(code); },
            (e) => { console.log(`FAIL setup: ${e.stack ?? e}`); stopAll(); process.exit(1); });
