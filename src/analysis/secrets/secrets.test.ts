import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejectsCode, throwsCode } from '../../core/testing.js';
import { HIGH_ENTROPY_RULE, SECRET_RULES, fingerprint, loadAllowlist, scanSecrets, scanText, shannonEntropy } from './index.js';

// Secrets are assembled at run time so this file does not itself carry any.
const b64url = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
const rand = (n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string =>
  [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
/** A random value the heuristic must flag: about 1 in 50 random strings lacks a digit or repeats too much, so those are redrawn. */
function token(n: number): string {
  for (;;) {
    const t = rand(n);
    if (/[0-9]/.test(t) && /[A-Za-z]/.test(t) && shannonEntropy(t) >= 3.9) return t;
  }
}
const pem = (label: string, body: Buffer): string => `-----BEGIN ${label}-----\n${body.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;

/** One sample of every rule: [rule id, the secret as a scanner must fingerprint it, a line that carries it]. */
function samples(): [string, string, string][] {
  const akid = `AKIA${rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`;
  const awsSecret = rand(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+');
  const jwt = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: '1234567890', name: 'ci' }))}.${b64url(randomBytes(32))}`;
  const url = rand(12);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const keys = [
    ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    ec.privateKey.export({ type: 'sec1', format: 'pem' }) as string,
    rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string,
    pem('OPENSSH PRIVATE KEY', Buffer.concat([Buffer.from('openssh-key-v1\0'), randomBytes(200)])),
    `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${randomBytes(120).toString('base64')}\n-----END PGP PRIVATE KEY BLOCK-----\n`,
  ];
  const apiKey = token(24);
  return [
    ['aws-access-key-id', akid, `aws_access_key_id = ${akid}`],
    ['aws-secret-access-key', awsSecret, `aws_secret_access_key = ${awsSecret}`],
    ...['ghp', 'gho', 'ghu', 'ghs', 'ghr'].map((p): [string, string, string] => {
      const t = `${p}_${rand(36)}`;
      return ['github-token', t, `curl -H "Authorization: token ${t}" https://api.github.invalid/`];
    }),
    ['github-fine-grained-token', `github_pat_${rand(22)}_${rand(59)}`, ''],
    ['gitlab-token', `glpat-${rand(20)}`, ''],
    ['npm-token', `npm_${rand(36)}`, ''],
    ['slack-token', `xoxb-${rand(11, '0123456789')}-${rand(24)}`, ''],
    ['stripe-secret-key', `sk_live_${rand(24)}`, ''],
    ['stripe-secret-key', `rk_live_${rand(24)}`, ''],
    ['google-api-key', `AIza${rand(35)}`, ''],
    ['jwt', jwt, `Authorization: Bearer ${jwt}`],
    ['url-password', url, `DATABASE_URL=postgres://app:${url}@db.internal:5432/app`],
    ...keys.map((k): [string, string, string] => ['private-key', k.trimEnd(), k]),
    [HIGH_ENTROPY_RULE, apiKey, `const apiKey = "${apiKey}";`],
  ].map(([rule, secret, line]) => [rule, secret, line || `token: ${secret}`] as [string, string, string]);
}

test('every well-known format is found, at the line and column where the secret starts', () => {
  const all = samples();
  const text = `// header\n${all.map(([, , line]) => `  ${line}`).join('\n')}\n`;
  const found = scanText(text, 'src/config.ts');
  for (const [rule, secret] of all) {
    const at = text.indexOf(secret);
    const line = text.slice(0, at).split('\n').length;
    const column = at - text.lastIndexOf('\n', at - 1);
    const f = found.find((x) => x.fingerprint === fingerprint(secret));
    assert.ok(f, `${rule} not found`);
    assert.deepEqual({ rule: f.rule, file: f.file, line: f.line, column: f.column }, { rule, file: 'src/config.ts', line, column }, rule);
  }
  // No extra findings: the URL's `postgres://app:…` is one finding, the AWS line is not also "high entropy".
  assert.equal(found.length, all.length, JSON.stringify(found.map((f) => f.rule)));
  assert.ok(SECRET_RULES.every((r) => all.some(([rule]) => rule === r.id)), 'a sample for every rule');
});

test('fingerprint: sha256: and the first 16 hex digits of SHA-256', () => {
  assert.equal(fingerprint('hunter2'), `sha256:${createHash('sha256').update('hunter2').digest('hex').slice(0, 16)}`);
  assert.match(fingerprint(''), /^sha256:[0-9a-f]{16}$/);
});

test('high-entropy assignments: the forms that count', () => {
  const v = token(28);
  let hex = randomBytes(20).toString('hex');
  while (shannonEntropy(hex) < 3.5) hex = randomBytes(20).toString('hex');
  const cases: [string, string, string][] = [
    ['app.js', `const key = "${v}"`, v],
    ['app.py', `SECRET_KEY = '${v}'`, v],
    ['config.json', `{ "client_secret": "${v}" }`, v],
    ['a.go', `token := "${v}"`, v],
    ['a.rb', `{ :password => "${v}" }`, v],
    ['.env', `API_TOKEN=${v}`, v],
    ['.env.production', `export DB_PASSWORD=${v} # prod`, v],
    ['deploy/values.yaml', `db:\n  password: ${v}\n`, v],
    ['settings.ts', `authToken: \`${hex}\``, hex],
  ];
  for (const [file, text, secret] of cases) {
    const f = scanText(text, file);
    assert.equal(f.length, 1, `${file}: ${text}`);
    assert.equal(f[0]?.rule, HIGH_ENTROPY_RULE);
    assert.equal(f[0]?.fingerprint, fingerprint(secret));
    assert.equal(f[0]?.column, text.split('\n').find((l) => l.includes(secret))!.indexOf(secret) + 1);
  }
  // Unquoted NAME=value only counts in .env-like files, unquoted YAML only in YAML.
  assert.deepEqual(scanText(`API_TOKEN=${v}`, 'run.sh'), []);
  assert.deepEqual(scanText(`password: ${v}`, 'notes.txt'), []);
});

test('the false-positive corpus: hashes, ids, references and placeholders are not secrets', () => {
  const sri = `sha512-${randomBytes(64).toString('base64')}`;
  const commit = randomBytes(20).toString('hex');
  const uuid = '3f2b8c1e-9d4a-4e7b-8a6c-1b2d3e4f5a6b';
  const png = randomBytes(300).toString('base64');
  const spki = (generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  const v = rand(28);
  const lockfile = JSON.stringify(
    {
      name: 'app',
      lockfileVersion: 3,
      packages: { 'node_modules/a': { version: '1.0.0', resolved: 'https://registry.invalid/a/-/a-1.0.0.tgz', integrity: sri, gitHead: commit, _shasum: randomBytes(20).toString('hex') } },
    },
    null,
    2,
  );
  const corpus: [string, string][] = [
    ['package-lock.json', lockfile],
    ['.github/workflows/ci.yml', `steps:\n  - uses: actions/checkout@${commit}\n    with:\n      ref: ${commit}\n      token: \${{ secrets.GITHUB_TOKEN }}\n`],
    ['src/ids.ts', `const requestId = "${uuid}";\nconst token = "${uuid}";\nconst sessionToken = '${uuid}';\nexport const commit = '${commit}';\n`],
    ['test/fixtures/image.ts', `export const logo = "data:image/png;base64,${png}";\nexport const raw = "${png}";\nconst avatarSecret = "data:image/png;base64,${png}";\n`],
    ['src/refs.ts', `const apiKey = process.env.API_KEY;\nconst token = "\${TOKEN}";\nconst password = "{{ vault.db_password }}";\nconst secret = "$SECRET_FROM_ENV";\n`],
    ['README.md', `apiKey = "your-api-key-here-0123456789"\npassword: "changeme-1234567890abcdef"\nAWS_SECRET = "EXAMPLEKEY0123456789abcdefghij"\n`],
    ['src/names.ts', `const publicKey = "${v}";\nconst cacheKey = "${v}";\nconst tokenUrl = "https://auth.invalid/${v}";\nconst TOKEN_FILE = "/run/secrets/${v}";\nconst passwordHash = "${v}";\n`],
    ['src/words.ts', `const token = "abcdefghijklmnopqrstuvwxyz";\nconst password = "correct-horse-battery-staple";\nconst secret = "0000000000000000000000000000000000000000";\n`],
    ['src/pub.ts', `const key = "${spki}";\n`],
    ['src/code.ts', 'const key = `name+hex(keyID)+base64(0x01||pub)`;\n'],
    ['src/short.ts', `const token = "${rand(12)}";\nconst password = "${rand(8)}1";\n`],
    ['docs/url.md', 'new URL("https://abc:xyz@example.com"); // postgres://user:password@localhost/db, https://ci:$CI_TOKEN@git.invalid/\n'],
    ['src/jwt.ts', `const notJwt = "eyJ${rand(20)}.eyJ${rand(20)}.${rand(20)}";\n`],
    ['src/keys.ts', 'const MARK = "-----BEGIN OPENSSH PRIVATE KEY-----";\nconst placeholder = "-----BEGIN PRIVATE KEY-----\\nXXXX\\nXXXX\\n-----END PRIVATE KEY-----";\n'],
  ];
  for (const [file, text] of corpus) assert.deepEqual(scanText(text, file), [], file);
});

test('hostile lines finish (no nested quantifiers, each run entered once)', () => {
  const MiB = 1024 * 1024;
  const lines = [
    'a'.repeat(MiB),
    '='.repeat(MiB),
    'glpat-'.repeat(MiB / 6),
    'eyJ-'.repeat(MiB / 4),
    `eyJ${'a'.repeat(MiB)}.`,
    'a://'.repeat(MiB / 4),
    `x://${'u'.repeat(MiB)}`,
    '"key": "'.repeat(MiB / 8),
    `key="${'A1'.repeat(MiB / 2)}`,
    'a=a='.repeat(MiB / 4),
    '-----BEGIN '.repeat(MiB / 11),
    `-----BEGIN PRIVATE KEY-----${'-'.repeat(MiB)}`,
    'xoxb-'.repeat(MiB / 5),
    'aws_secret_access_key='.repeat(MiB / 22),
  ];
  for (const line of lines) {
    assert.ok(Array.isArray(scanText(line, '.env')));
    assert.ok(Array.isArray(scanText(line, 'a.yaml')));
  }
});

test('allowlist: the line format, and INPUT_MALFORMED naming the line', () => {
  const list = loadAllowlist(
    ['# accepted findings', '', 'sha256:0123456789abcdef   # the test key in fixtures', 'path: test/fixtures/**', 'rule: high-entropy-assignment path: docs/**', 'rule: jwt', ''].join('\n'),
    '.ssf-secrets-allow',
  );
  assert.deepEqual([...list.fingerprints], ['sha256:0123456789abcdef']);
  assert.deepEqual(list.paths, ['test/fixtures/**']);
  assert.deepEqual(list.rules, [{ rule: HIGH_ENTROPY_RULE, path: 'docs/**' }, { rule: 'jwt' }]);
  const bad: [string, RegExp][] = [
    ['sha256:0123', /allow:1: cannot read "sha256:0123"/],
    ['\n\nsecret-value', /allow:3: cannot read/],
    ['rule: no-such-rule', /allow:1: unknown rule "no-such-rule"/],
    ['path: /etc/**', /allow:1: .*not a relative path glob/],
    ['path: a/../../b', /not a relative path glob/],
    ['rule: jwt path:', /cannot read/],
  ];
  for (const [text, re] of bad) {
    throwsCode(() => loadAllowlist(text, 'allow'), 'INPUT_MALFORMED');
    assert.throws(() => loadAllowlist(text, 'allow'), re);
  }
});

test('scanSecrets: a tree with every kind; skips, bounds, allowlist, and the secret text appears nowhere in the report', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ssf-secrets-'));
  const outside = mkdtempSync(join(tmpdir(), 'ssf-secrets-out-'));
  try {
    const all = samples();
    all.forEach(([rule, , line], i) => {
      mkdirSync(join(root, 'src', rule), { recursive: true });
      writeFileSync(join(root, 'src', rule, `f${i}.txt`), `first line\n${line}\n`);
    });
    const hidden = `ghp_${rand(36)}`;
    for (const dir of ['.git', 'node_modules/pkg', 'test/fixtures']) {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'x.js'), `const t = "${hidden}";\n`);
    }
    writeFileSync(join(outside, 'creds'), `token: ${hidden}\n`);
    symlinkSync(join(outside, 'creds'), join(root, 'link-to-creds'));
    symlinkSync(outside, join(root, 'link-to-dir'));
    writeFileSync(join(root, 'image.bin'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]), Buffer.from(`\n${hidden}\n`)]));
    writeFileSync(join(root, 'big.log'), `${hidden}\n${'x'.repeat(2048)}`);

    const r = await scanSecrets(root, { maxFileBytes: 2048 });
    const json = JSON.stringify(r);
    for (const [rule, secret] of all) {
      assert.ok(r.findings.some((f) => f.rule === rule && f.fingerprint === fingerprint(secret)), `${rule} found`);
      for (const piece of secret.split('\n').filter((l) => l.length >= 8 && !l.startsWith('-----'))) assert.ok(!json.includes(piece), `${rule}: secret text in the report`);
    }
    assert.ok(!json.includes(hidden));
    // test/fixtures is scanned (only .git and node_modules are skipped by default); the symlinks are not followed.
    assert.deepEqual(r.findings.filter((f) => f.fingerprint === fingerprint(hidden)).map((f) => f.file), ['test/fixtures/x.js']);
    assert.equal(r.findings.length, all.length + 1);
    assert.ok(r.findings.every((f) => !f.file.startsWith('/') && !f.file.includes('\\')));
    assert.equal(r.filesScanned, all.length + 1);
    assert.equal(r.suppressed, 0);
    assert.deepEqual(r.warnings, [`big.log: ${hidden.length + 1 + 2048} bytes, over the 2048-byte limit (maxFileBytes); skipped`, 'image.bin: binary (a NUL byte in the first 8192 bytes); skipped']);
    assert.match(r.root ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal((await scanSecrets(root, { maxFileBytes: 2048 })).root, r.root, 'the digest is stable');

    // Allowlist: by fingerprint, by path, by rule (everywhere or under a path).
    const jwt = all.find(([rule]) => rule === 'jwt')![1];
    const allow = loadAllowlist(`${fingerprint(jwt)}  # documented sample\npath: test/fixtures/**\nrule: private-key\nrule: npm-token path: src/npm-*/**\nrule: slack-token path: elsewhere/**\n`);
    const a = await scanSecrets(root, { maxFileBytes: 2048, allowlist: allow });
    const keys = all.filter(([rule]) => rule === 'private-key').length;
    assert.equal(a.suppressed, 1 + 1 + keys + 1);
    assert.equal(a.findings.length, r.findings.length - a.suppressed);
    assert.ok(!a.findings.some((f) => ['jwt', 'private-key', 'npm-token'].includes(f.rule)));
    assert.ok(a.findings.some((f) => f.rule === 'slack-token'));

    // exclude replaces the defaults: node_modules is scanned when only .git is excluded; globs work too.
    const e = await scanSecrets(root, { maxFileBytes: 2048, exclude: ['.git', 'src/*/**'] });
    assert.deepEqual(e.findings.map((f) => f.file).sort(), ['node_modules/pkg/x.js', 'test/fixtures/x.js']);

    // maxFiles stops the walk with a warning.
    const m = await scanSecrets(root, { maxFileBytes: 2048, maxFiles: 3 });
    assert.ok(m.filesScanned < 3);
    assert.match(m.warnings.join('\n'), /stopped after 3 files and directories \(maxFiles\)/);
    const t = await scanSecrets(root, { maxFileBytes: 2048, maxTotalBytes: 100 });
    assert.match(t.warnings.join('\n'), /stopped after 100 bytes \(maxTotalBytes\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('scanSecrets: a missing root and bad bounds are refused', async () => {
  await rejectsCode(scanSecrets(join(tmpdir(), `ssf-no-such-${rand(8)}`)), 'FILE_NOT_FOUND');
  await rejectsCode(scanSecrets(tmpdir(), { maxFiles: 0 }), 'USAGE');
});
