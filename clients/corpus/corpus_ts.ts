/**
 * Parses every payload of tests/fixtures/payloads/ with the typescript-fetch client that openapi-generator
 * makes from openapi/ppio.yaml (default options), writes it back with the client's ToJSON, and checks that
 * nothing was lost: every key of the input comes out with the same value (typescript-fetch adds the
 * camelCase names of known fields beside them, so the output may have more keys). Compiled with
 * `tsc --strict` together with the client, then run with node by `make check-clients`.
 */
import {
  CreateTaskResponseFromJSON,
  CreateTaskResponseToJSON,
  ErrorBodyFromJSON,
  ErrorBodyToJSON,
  ModelListResponseFromJSON,
  ModelListResponseToJSON,
  TaskResultResponseFromJSON,
  TaskResultResponseToJSON,
  WebhookEventFromJSON,
  WebhookEventToJSON,
} from "./models/index";

// Node's own modules, typed just enough (the build has no @types/node).
declare const require: (name: string) => any;
declare const process: { argv: string[]; exitCode?: number };
const fs = require("fs");
const path = require("path");

type Codec = [(json: any) => unknown, (value: any) => unknown];
const CODECS: Record<string, Codec> = {
  task_result: [TaskResultResponseFromJSON, TaskResultResponseToJSON],
  webhook: [WebhookEventFromJSON, WebhookEventToJSON],
  models: [ModelListResponseFromJSON, ModelListResponseToJSON],
  error: [ErrorBodyFromJSON, ErrorBodyToJSON],
  create: [CreateTaskResponseFromJSON, CreateTaskResponseToJSON],
};

/** The first place where `output` does not keep what `input` had, or undefined. */
function lost(input: unknown, output: unknown, where: string): string | undefined {
  if (Array.isArray(input)) {
    if (!Array.isArray(output) || output.length !== input.length) return `${where}: ${JSON.stringify(output)}`;
    for (let i = 0; i < input.length; i++) {
      const problem = lost(input[i], output[i], `${where}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (input !== null && typeof input === "object") {
    if (output === null || typeof output !== "object") return `${where}: ${JSON.stringify(output)}`;
    for (const [key, value] of Object.entries(input)) {
      const problem = lost(value, (output as Record<string, unknown>)[key], `${where}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return input === output ? undefined : `${where}: ${JSON.stringify(input)} became ${JSON.stringify(output)}`;
}

const root: string = process.argv[2] ?? "";
let passed = 0;
let failed = 0;
for (const kind of (fs.readdirSync(root) as string[]).sort()) {
  const codec = CODECS[kind];
  for (const file of (fs.readdirSync(path.join(root, kind)) as string[]).sort()) {
    const name = `${kind}/${file}`;
    try {
      if (!codec) throw new Error(`no schema for folder ${kind}`);
      const input: unknown = JSON.parse(fs.readFileSync(path.join(root, kind, file), "utf8"));
      const output: unknown = JSON.parse(JSON.stringify(codec[1](codec[0](input))));
      const problem = lost(input, output, "$");
      if (problem) throw new Error(`written back differently at ${problem}`);
      passed++;
      console.log(`ok   ${name}`);
    } catch (error: unknown) {
      failed++;
      console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
console.log(`typescript: ${passed} passed, ${failed} failed`);
if (failed > 0 || passed === 0) process.exitCode = 1;
