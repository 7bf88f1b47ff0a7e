import assert from 'node:assert/strict';

/** Test fixtures for src/pipeline: a definition every lint rule is silent on, and helpers to break it. */

export const NODE_DIGEST = 'sha256:6295488653f0d93b0a157841746fef7e72cc4328cfb60c4bbe0ca2668a836ffd';
export const NPM_DIGEST = 'sha256:3f2a61a5e1b4c2d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f50';

export const CLEAN = `apiVersion: ssf/v1
kind: Pipeline
metadata:
  name: hello-service
  description: Build and publish a small service
params:
  - name: mode
    type: string
    default: release
    enum: [release, debug]
    description: build mode
  - name: verbose
    type: boolean
    default: false
workspaces:
  - name: source
  - name: out
tools:
  - name: node
    path: /usr/bin/node
    digest: ${NODE_DIGEST}
  - name: npm
    path: /usr/lib/node_modules/npm
    digest: ${NPM_DIGEST}
tasks:
  - name: checkout
    kind: source
    source: { path: . }
    workspaces: [ { name: source, mode: rw } ]
  - name: deps
    kind: dependencies
    needs: [checkout]
    dependencies: { manager: npm, lockfile: package-lock.json, tool: npm }
    workspaces: [ { name: source, mode: rw } ]
  - name: build
    kind: run
    needs: [deps]
    run:
      tool: node
      args: [node_modules/typescript/bin/tsc, -p, ., --outDir, /workspace/out/dist]
      cwd: source
      env: { NODE_ENV: "$(params.mode)", VERBOSE: "$(params.verbose)" }
      timeoutSeconds: 600
      memoryMiB: 2048
    workspaces: [ { name: source, mode: ro }, { name: out, mode: rw } ]
  - name: image
    kind: image
    needs: [build]
    image:
      base: scratch
      from: out
      path: dist
      target: /app
      entrypoint: [node, /app/main.js]
      env: { PORT: "8080" }
      user: "65534"
    workspaces: [ { name: out, mode: ro } ]
  - name: publish
    kind: publish
    needs: [image]
    publish:
      artifacts:
        - { type: tarball, name: dist.tar.gz, from: out, path: dist }
        - { type: image, task: image }
    workspaces: [ { name: out, mode: ro } ]
`;

/** CLEAN with `from` replaced by `to` (each must occur exactly once unless `all`). */
export function edit(text: string, from: string, to: string, all = false): string {
  const count = text.split(from).length - 1;
  assert.ok(all ? count > 0 : count === 1, `fixture edit: ${JSON.stringify(from)} occurs ${count} times`);
  return all ? text.split(from).join(to) : text.replace(from, () => to);
}

/**
 * 1-based line:column of the nth occurrence of needle, found by plain text search, so that
 * expected positions do not come from the YAML parser under test.
 */
export function where(text: string, needle: string, nth = 0): string {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `fixture: ${JSON.stringify(needle)} (occurrence ${nth}) not found`);
  }
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  return `${line}:${column}`;
}
