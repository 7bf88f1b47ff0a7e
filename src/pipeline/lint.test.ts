import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSsfError } from '../core/index.js';
import { LINT_RULES, lintPipeline, parsePipeline, type LintFinding } from './index.js';
import { PARSE_RULES } from './semantic.js';
import { CLEAN, NODE_DIGEST, edit, where } from './testdata.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function lint(text: string | Buffer): LintFinding[] {
  return lintPipeline(text, 'p.yaml');
}

/** The findings of one rule as "line:column". */
function at(findings: LintFinding[], rule: string): string[] {
  return findings.filter((f) => f.rule === rule).map((f) => `${f.line}:${f.column}`);
}

function rulesOf(findings: LintFinding[]): string[] {
  return [...new Set(findings.map((f) => f.rule))].sort();
}

const SH_DIGEST = 'sha256:f5adb8bf0100ed0f8c7782ca5f92814e9229525a4b4e0d401cf3bea09ac960a6';
const WITH_SH = edit(CLEAN, 'tasks:\n', `  - name: sh\n    path: /usr/bin/dash\n    digest: ${SH_DIGEST}\ntasks:\n`);

/** WITH_SH plus a run task `extra` (inserted before publish) with the given YAML body lines. */
function withTask(body: string, text = WITH_SH): string {
  return edit(text, '  - name: publish\n', `  - name: extra\n    kind: run\n${body}  - name: publish\n`);
}

test('the clean definition has no findings', () => {
  assert.deepEqual(lint(CLEAN), []);
});

test('parse problems become error findings; lint never throws for bad content', () => {
  const bad = edit(CLEAN, 'needs: [image]', 'needs: [imgae]');
  const f = lint(bad);
  assert.deepEqual(f.map((x) => [x.rule, x.severity, `${x.line}:${x.column}`]).filter((x) => x[0] === 'unknown-need'), [['unknown-need', 'error', where(bad, 'imgae')]]);
  assert.deepEqual(rulesOf(lint('tasks: [')), ['yaml']);
  assert.deepEqual(rulesOf(lint('- 1\n')), ['yaml']);
  assert.deepEqual(rulesOf(lint(Buffer.from([0x61, 0x3a, 0x20, 0xc3, 0x28, 0x0a]))), ['encoding']);
  const big = lint('#'.repeat(1024 * 1024 + 1));
  assert.deepEqual(big.map((x) => [x.rule, x.line, x.column]), [['input-too-large', 1, 1]]);
  assert.deepEqual(rulesOf(lint(edit(CLEAN, 'timeoutSeconds: 600', 'timeoutSeconds: soon'))), ['schema']);
  for (const x of f) assert.equal(x.file, 'p.yaml');
});

test('findings are sorted by position', () => {
  const text = edit(edit(CLEAN, '  - name: out\n', '  - name: out\n  - name: spare\n'), 'user: "65534"', 'user: "0"');
  const f = lint(text);
  assert.deepEqual(f.map((x) => x.rule), ['unused-workspace', 'image-user-root']);
  const positions = f.map((x) => x.line * 1000 + x.column);
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
});

test('hardcoded-credential: token formats, wherever they are, at the exact column', () => {
  const aws = edit(CLEAN, 'VERBOSE: "$(params.verbose)" }', 'VERBOSE: "$(params.verbose)", AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE }');
  assert.deepEqual(at(lint(aws), 'hardcoded-credential'), [where(aws, 'AKIA')]);
  const gh = `ghp_${'aB3'.repeat(12)}`;
  const ghText = edit(CLEAN, 'args: [node_modules/typescript/bin/tsc,', `args: ["--header=Authorization: token ${gh}", node_modules/typescript/bin/tsc,`);
  assert.deepEqual(at(lint(ghText), 'hardcoded-credential'), [where(ghText, 'ghp_')]);
  const url = edit(CLEAN, 'source: { path: . }', 'source: { git: { url: "https://bot:Zx81kQ93mPl2@example.invalid/r.git", commit: "0123456789abcdef0123456789abcdef01234567" } }');
  assert.deepEqual(at(lint(url), 'hardcoded-credential'), [where(url, 'https://bot')]);
  // The message never repeats the secret.
  for (const f of lint(ghText)) assert.ok(!f.message.includes(gh));
});

test('hardcoded-credential: a private key inside a block script is placed on its own line', () => {
  const text = withTask(`    run:
      tool: sh
      args:
        - -euc
        - |
          cat > /tmp/key <<'EOF'
          -----BEGIN OPENSSH PRIVATE KEY-----
          b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ
          -----END OPENSSH PRIVATE KEY-----
          EOF
    needs: [build]
    workspaces: [ { name: out, mode: ro } ]
`);
  assert.deepEqual(at(lint(text), 'hardcoded-credential'), [where(text, '-----BEGIN')]);
});

test('hardcoded-credential: secret-named variables, flags and assignments; references are fine', () => {
  const envText = edit(CLEAN, 'VERBOSE: "$(params.verbose)" }', 'VERBOSE: "$(params.verbose)", NPM_TOKEN: abc123, DB_PASSWORD: "changeme", TOKEN_FILE: /run/secrets/t }');
  assert.deepEqual(at(lint(envText), 'hardcoded-credential'), [where(envText, 'abc123'), where(envText, '"changeme"')]);
  const flag = edit(CLEAN, 'args: [node_modules/typescript/bin/tsc,', 'args: [--password, hunter2, node_modules/typescript/bin/tsc,');
  assert.deepEqual(at(lint(flag), 'hardcoded-credential'), [where(flag, 'hunter2')]);
  const script = withTask(`    run:
      tool: sh
      args: [-euc, "curl -u ci --data password=Xk29fLq8Wz3v https://example.invalid/login"]
    needs: [build]
    workspaces: [ { name: out, mode: ro } ]
`);
  assert.deepEqual(at(lint(script), 'hardcoded-credential'), [where(script, 'Xk29fLq8Wz3v')]);

  // Parameters, shell variables, placeholders and low-entropy words are not credentials.
  const refs = edit(
    edit(CLEAN, 'VERBOSE: "$(params.verbose)" }', 'VERBOSE: "$(params.verbose)", NPM_TOKEN: "$(params.mode)", GH_TOKEN: "$GH_TOKEN", API_KEY: "" }'),
    'args: [node_modules/typescript/bin/tsc,',
    'args: [--token, "$(params.mode)", "https://ci:$(params.mode)@example.invalid/", "password=$(params.mode)", "token=short", node_modules/typescript/bin/tsc,',
  );
  assert.deepEqual(at(lint(refs), 'hardcoded-credential'), []);
});

test('hardcoded-credential still runs when the schema check fails', () => {
  const text = edit(CLEAN, 'VERBOSE: "$(params.verbose)" }', 'VERBOSE: "$(params.verbose)", AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE }\n      bogus: 1');
  const f = lint(text);
  assert.ok(at(f, 'schema').length > 0);
  assert.deepEqual(at(f, 'hardcoded-credential'), [where(text, 'AKIA')]);
});

test('unpinned-tool: missing, malformed, placeholder and uppercase digests, and unpinned base images', () => {
  const missing = edit(CLEAN, `    digest: ${NODE_DIGEST}\n`, '');
  assert.deepEqual(at(lint(missing), 'unpinned-tool'), [where(missing, 'name: node')]);
  // Parsing accepts it (ssf pipeline pin must be able to load the file to pin it).
  assert.equal(parsePipeline(missing, 'p.yaml').def.tools[0]?.digest, undefined);
  const short = edit(CLEAN, NODE_DIGEST, 'sha256:abc');
  assert.deepEqual(at(lint(short), 'unpinned-tool'), [where(short, 'sha256:abc')]);
  const zero = edit(CLEAN, NODE_DIGEST, `sha256:${'0'.repeat(64)}`);
  assert.match(lint(zero).find((f) => f.rule === 'unpinned-tool')?.message ?? '', /placeholder/);
  const upper = edit(CLEAN, NODE_DIGEST, NODE_DIGEST.toUpperCase().replace('SHA256', 'sha256'));
  assert.equal(at(lint(upper), 'unpinned-tool').length, 1);
  const base = edit(CLEAN, 'base: scratch', 'base: node:20-slim');
  assert.deepEqual(at(lint(base), 'unpinned-tool'), [where(base, 'node:20-slim')]);
  const pinned = edit(CLEAN, 'base: scratch', `base: "${NODE_DIGEST}"`);
  assert.deepEqual(lint(pinned), []);
});

test('workspace-write-conflict: two unordered writers of one workspace', () => {
  const text = withTask(`    run: { tool: sh, args: [-c, "true"] }
    needs: [deps]
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
`);
  const f = lint(text);
  assert.deepEqual(at(f, 'workspace-write-conflict'), [where(text, '{ name: out, mode: rw }', 1)]);
  assert.match(f.find((x) => x.rule === 'workspace-write-conflict')?.message ?? '', /tasks build and extra both mount workspace out rw/);
  // Ordered writers are fine.
  assert.deepEqual(at(lint(edit(text, 'needs: [deps]\n    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]', 'needs: [build]\n    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]')), 'workspace-write-conflict'), []);
});

test('workspace-read-race and empty-workspace-read', () => {
  const race = withTask(`    run: { tool: sh, args: [-c, "ls /workspace/out"] }
    needs: [deps]
    workspaces: [ { name: out, mode: ro } ]
`);
  assert.deepEqual(at(lint(race), 'workspace-read-race'), [where(race, '{ name: out, mode: ro } ]\n  - name: publish')]);
  const empty = withTask(`    run: { tool: sh, args: [-c, "ls /workspace/cache"] }
    needs: [build]
    workspaces: [ { name: cache, mode: ro } ]
`, edit(WITH_SH, '  - name: out\n', '  - name: out\n  - name: cache\n'));
  const f = lint(empty);
  assert.deepEqual(at(f, 'empty-workspace-read'), [where(empty, '{ name: cache, mode: ro }')]);
  assert.equal(f.find((x) => x.rule === 'empty-workspace-read')?.severity, 'warning');
});

test('unused-workspace, unused-tool, unused-param', () => {
  const ws = edit(CLEAN, '  - name: out\n', '  - name: out\n  - name: spare\n');
  assert.deepEqual(at(lint(ws), 'unused-workspace'), [where(ws, 'spare')]);
  assert.deepEqual(at(lint(WITH_SH), 'unused-tool'), [where(WITH_SH, 'sh\n')]);
  // node is used as npm's runtime even when no run task names it.
  const npmOnly = edit(WITH_SH, '      tool: node\n', '      tool: sh\n');
  assert.deepEqual(at(lint(npmOnly), 'unused-tool'), []);
  const param = edit(CLEAN, ', VERBOSE: "$(params.verbose)" }', ' }');
  assert.deepEqual(at(lint(param), 'unused-param'), [where(param, 'verbose')]);
});

test('missing-source and task-not-before-publish', () => {
  const mini = `apiVersion: ssf/v1
kind: Pipeline
metadata: { name: mini }
tools:
  - { name: sh, path: /usr/bin/dash, digest: "${SH_DIGEST}" }
tasks:
  - name: hello
    kind: run
    run: { tool: sh, args: [-c, "echo hello"] }
`;
  assert.deepEqual(lint(mini).map((f) => [f.rule, `${f.line}:${f.column}`, f.severity]), [['missing-source', where(mini, 'tasks:'), 'warning']]);
  const side = withTask(`    run: { tool: sh, args: [-c, "ls /workspace/out"] }
    needs: [build]
    workspaces: [ { name: out, mode: ro } ]
`);
  assert.deepEqual(at(lint(side), 'task-not-before-publish'), [where(side, 'extra')]);
  assert.deepEqual(at(lint(edit(side, 'needs: [image]', 'needs: [image, extra]')), 'task-not-before-publish'), []);
});

test('image-user-root', () => {
  for (const user of ['"0"', 'root', '"0:0"', 'root:wheel']) {
    const text = edit(CLEAN, 'user: "65534"', `user: ${user}`);
    assert.deepEqual(at(lint(text), 'image-user-root'), [where(text, user)], user);
  }
  assert.deepEqual(at(lint(edit(CLEAN, 'user: "65534"', 'user: "1000:1000"')), 'image-user-root'), []);
});

test('unrestricted-param-in-script: free-form strings spliced into program text', () => {
  const param = '  - name: greeting\n    type: string\n    default: hello\n';
  const base = edit(WITH_SH, 'workspaces:\n  - name: source', `${param}workspaces:\n  - name: source`);
  const spliced = withTask(`    run: { tool: sh, args: [-euc, "echo $(params.greeting)"] }
    needs: [build]
    workspaces: [ { name: out, mode: ro } ]
`, base);
  const f = lint(edit(spliced, 'needs: [image]', 'needs: [image, extra]'));
  assert.deepEqual(at(f, 'unrestricted-param-in-script'), [where(spliced, '"echo $(params.greeting)"')]);
  // An enum (or a pattern) restricts it; passing it through the environment avoids it.
  const restricted = edit(spliced, '    default: hello\n', '    default: hello\n    pattern: "[a-z]+"\n');
  assert.deepEqual(at(lint(restricted), 'unrestricted-param-in-script'), []);
  const viaEnv = edit(spliced, 'args: [-euc, "echo $(params.greeting)"]', 'args: [-euc, "echo \\"$GREETING\\""], env: { GREETING: "$(params.greeting)" }');
  assert.deepEqual(at(lint(viaEnv), 'unrestricted-param-in-script'), []);
});

test('every rule id is documented in docs/pipeline.md', () => {
  const doc = readFileSync(`${REPO}docs/pipeline.md`, 'utf8');
  for (const rule of [...Object.keys(LINT_RULES), ...PARSE_RULES]) assert.ok(doc.includes(`\`${rule}\``), `docs/pipeline.md does not document ${rule}`);
});

test('mutated definitions: lint never throws, parse throws only PIPELINE_INVALID with a position', () => {
  // A fixed-seed generator, so a failure reproduces.
  let seed = 20240601;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = [':', '-', '[', ']', '{', '}', '&a ', '*a', '!x ', '"', "'", '\n', '  ', '|', '>', '#', '$(params.', ')', '\t', '\u0000', 'ü', '? ', ',', '0', 'null', '~'];
  for (let i = 0; i < 300; i++) {
    let t = CLEAN;
    for (let k = 0, n = 1 + rnd(4); k < n; k++) {
      const pos = rnd(t.length);
      const lines = t.split('\n');
      switch (rnd(4)) {
        case 0: t = t.slice(0, pos) + t.slice(pos + 1 + rnd(10)); break;
        case 1: t = t.slice(0, pos) + (pieces[rnd(pieces.length)] ?? '') + t.slice(pos); break;
        case 2: lines.splice(rnd(lines.length), 0, lines[rnd(lines.length)] ?? ''); t = lines.join('\n'); break;
        default: lines.splice(rnd(lines.length), 1); t = lines.join('\n');
      }
    }
    const findings = lint(t);
    for (const f of findings) assert.ok(f.line >= 1 && f.column >= 1, JSON.stringify(f));
    try {
      parsePipeline(t, 'p.yaml');
      assert.equal(findings.filter((f) => f.severity === 'error' && !(f.rule in LINT_RULES)).length, 0, 'parsed, yet lint reports a parse error');
    } catch (e) {
      assert.ok(isSsfError(e, 'PIPELINE_INVALID'), String(e));
      assert.match(e.message, /^p\.yaml:\d+:\d+: /);
      assert.ok(findings.some((f) => f.severity === 'error' && !(f.rule in LINT_RULES)), 'parse failed, yet lint reports no parse error');
    }
  }
});
