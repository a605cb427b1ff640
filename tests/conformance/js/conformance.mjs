// A client of airad written from its docs alone (README.md, docs/events.md, docs/experiments.md and
// docs/*.schema.json), with the official NATS JavaScript client and ajv: it holds the daemon to its
// documented wire contract. docs/clients.md says what it proves and how to run it.
//
//   node conformance.mjs NATS_URL WORK_DIR
//
// WORK_DIR/examples/run/*.json and WORK_DIR/examples/experiment/*.json are the example requests as a
// client publishes them. Prints one JSON line per check, {"check", "ok", "detail"}; exits 1 if any failed.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

import Ajv2020 from "ajv/dist/2020.js";
import { connect } from "nats";

const DOCS = fileURLToPath(new URL("../../../docs/", import.meta.url));

// The wire, as docs/events.md and docs/experiments.md name it.
const REQUESTS = "airad.requests";
const REQUEST_STREAM = "AIRAD_REQUESTS";
const EVENTS = "airad.events.";
const EVENT_STREAM = "AIRAD_EVENTS";
const EXPERIMENTS = "airad.experiments";
const EXPERIMENT_EVENTS = "airad.experiment-events.";
const EXPERIMENT_STREAM = "AIRAD_EXPERIMENTS";
const RUNS_BUCKET = "AIRAD_RUNS";
const MAX_REQUEST_BYTES = 262144;
const MAX_SEED = 2 ** 53 - 1;
const MAX_FIELD_CHARS = 256;
const MAX_REASON_CHARS = 1000;
const EXCERPT_BYTES = 500;
const RESULT_KEYS = [
  "status", "reason", "metric", "lower_is_better", "nodes", "buggy", "cost_usd", "wall_s",
  "chosen_node_id", "validation", "test", "medal", "has_medals", "baseline_test",
];
const EXPERIMENT_TYPES = [
  "experiment.accepted", "experiment.rejected", "experiment.run_started", "experiment.run_finished",
  "experiment.cancelled", "experiment.done",
];

const RUN_TIMEOUT_MS = 180_000;
const REJECTION_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();
const failures = [];

// ---------------------------------------------------------------------------------------------
// Reporting

function report(check, ok, detail) {
  if (!ok) failures.push(check);
  console.log(JSON.stringify({ check, ok: Boolean(ok), detail }));
}

/** Run one check; an exception is that check's failure, and the later checks still run. */
async function attempt(check, body) {
  try {
    return await body();
  } catch (error) {
    report(check, false, `${error?.message ?? error}`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas

/** The three documented schemas compiled by one strict ajv: {ajv, run, experiment, event, branch(type)}. */
function compileSchemas() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  const validators = {};
  for (const [name, file] of [
    ["run", "run-request.schema.json"],
    ["experiment", "experiment-request.schema.json"],
    ["event", "events.schema.json"],
  ]) {
    const schema = JSON.parse(readFileSync(join(DOCS, file), "utf8"));
    try {
      ajv.addSchema(schema, file);
      validators[name] = ajv.getSchema(file);
      report(`schema compiles strictly: ${file}`, true, schema.title);
    } catch (error) {
      report(`schema compiles strictly: ${file}`, false, error.message);
    }
  }
  // Each event type's own branch of the events schema (its `type` is a required const), for precise errors.
  const events = JSON.parse(readFileSync(join(DOCS, "events.schema.json"), "utf8"));
  const branches = new Map();
  for (const [name, definition] of Object.entries(events.$defs ?? {})) {
    const tag = definition.properties?.type?.const;
    if (tag) branches.set(tag, name);
  }
  const branch = (type) => branches.has(type) ? ajv.getSchema(`events.schema.json#/$defs/${branches.get(type)}`) : undefined;
  return { ...validators, branch, eventTypes: [...branches.keys()] };
}

function errorsOf(validate) {
  return (validate.errors ?? []).slice(0, 4).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}

/** Null when the event matches docs/events.schema.json, else what is wrong with it. */
function eventProblem(schemas, event) {
  if (!schemas.event) return "events.schema.json did not compile";
  if (schemas.event(event)) return null;
  const own = schemas.branch(event?.type);
  if (!own) return `type ${JSON.stringify(event?.type)} is in no branch of the schema`;
  own(event);
  return `${event.type} seq ${event.seq}: ${errorsOf(own) || errorsOf(schemas.event)}`;
}

function checkExamples(schemas, workDir) {
  for (const kind of ["run", "experiment"]) {
    const folder = join(workDir, "examples", kind);
    const files = readdirSync(folder).filter((name) => name.endsWith(".json")).sort();
    report(`examples found: ${kind} requests`, files.length > 0, files);
    for (const file of files) {
      const request = JSON.parse(readFileSync(join(folder, file), "utf8"));
      const validate = schemas[kind];
      const ok = Boolean(validate) && validate(request);
      report(`example validates: ${kind}/${file}`, ok, ok ? `${kind}-request.schema.json` : errorsOf(validate ?? {}));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The wire: publish, follow, look

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function bytesOf(value) {
  return value instanceof Uint8Array ? value : encoder.encode(typeof value === "string" ? value : JSON.stringify(value));
}

/** Publish a request; the ack's `seq` is its sequence in AIRAD_REQUESTS (the `req-<seq>` of a request with no id). */
async function publish(js, subject, body) {
  const ack = await js.publish(subject, bytesOf(body));
  if (ack.stream !== REQUEST_STREAM) throw new Error(`${subject} was stored in ${ack.stream}, not ${REQUEST_STREAM}`);
  return ack;
}

/** Every event on `subject` from the first (an ordered consumer), until `isEnd(event)` or the timeout. */
async function follow(js, stream, subject, isEnd, timeoutMs = RUN_TIMEOUT_MS) {
  const consumer = await js.consumers.get(stream, { filterSubjects: [subject] });
  const messages = await consumer.consume();
  const timer = setTimeout(() => messages.stop(), timeoutMs);
  const events = [];
  try {
    for await (const message of messages) {
      events.push(message.json());
      if (isEnd(events.at(-1))) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  if (!events.length || !isEnd(events.at(-1))) {
    throw new Error(`${subject}: no end within ${timeoutMs / 1000} s; saw ${JSON.stringify(events.map((e) => e.type))}`);
  }
  return events;
}

const runEnded = (event) => event.type === "run.finished" || event.type === "run.rejected";
const experimentEnded = (event) => event.type === "experiment.done" || event.type === "experiment.rejected";

/** The last event on a subject, or null when there is none (an event's `seq` is its number: gapless from 1). */
async function lastEvent(jsm, stream, subject) {
  try {
    return (await jsm.streams.getMessage(stream, { last_by_subj: subject })).json();
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

function isNotFound(error) {
  return error?.code === "404" || error?.api_error?.code === 404 || /no message found/i.test(error?.message ?? "");
}

/** Wait until a daemon has taken the request off AIRAD_REQUESTS (a work queue: a handled request is removed). */
async function handled(jsm, seq, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await jsm.streams.getMessage(REQUEST_STREAM, { seq });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await sleep(200);
  }
  throw new Error(`request ${seq} was still in ${REQUEST_STREAM} after ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------------------------
// Events: the stream's rules, and the nodes rebuilt from them

/** The rules every stream of events keeps: its id in each event, a gapless seq from 1, the daemon's `at`. */
function streamProblem(events, key, id) {
  for (const [index, event] of events.entries()) {
    if (event[key] !== id) return `event ${index + 1} has ${key} ${JSON.stringify(event[key])}, not ${id}`;
    if (event.seq !== index + 1) return `event ${index + 1} has seq ${event.seq}`;
    if (typeof event.at !== "number") return `event ${index + 1} has no numeric at`;
  }
  return null;
}

function checkEvents(check, schemas, events, id) {
  const problems = events.map((event) => eventProblem(schemas, event)).filter(Boolean);
  const stream = streamProblem(events, "run_id", id);
  if (stream) problems.unshift(stream);
  report(check, problems.length === 0, problems.length ? problems.slice(0, 5) : `${events.length} events: ${summarizeTypes(events)}`);
}

function summarizeTypes(events) {
  const counts = {};
  for (const event of events) counts[event.type] = (counts[event.type] ?? 0) + 1;
  return Object.entries(counts).map(([type, n]) => `${type}×${n}`).join(" ");
}

/** The nodes by node_id, from the `node.*` events alone: operator, parents, status, validation and test score. */
function rebuildNodes(events) {
  const nodes = new Map();
  for (const event of events.filter((e) => e.type.startsWith("node."))) {
    if (!nodes.has(event.node_id)) nodes.set(event.node_id, { node_id: event.node_id, endings: 0, score: null, valid: null, test: null });
    const node = nodes.get(event.node_id);
    node.status = event.type.slice("node.".length);
    if (event.type === "node.selected") Object.assign(node, { operator: event.operator, parent_ids: event.parent_ids });
    if (event.type === "node.scored") {
      Object.assign(node, { valid: event.valid, score: event.score, metric: event.metric, lower_is_better: event.lower_is_better });
    }
    if (event.type === "node.tested") Object.assign(node, { test: event.score, endings: node.endings + 1 });
    if (event.type === "node.failed") Object.assign(node, { stage: event.stage, endings: node.endings + 1 });
  }
  return nodes;
}

/** docs/events.md: the best valid, non-null validation score in the metric's direction; a tie goes to the lowest node_id. */
function bestNode(nodes) {
  let best = null;
  for (const node of [...nodes.values()].sort((a, b) => a.node_id - b.node_id)) {
    if (!node.valid || node.score === null) continue;
    const better = best === null || (node.lower_is_better ? node.score < best.score : node.score > best.score);
    if (better) best = node;
  }
  return best;
}

/** Whether `expected`'s every field (recursively) is in `actual` with the same value. */
function contains(actual, expected) {
  if (expected === null || typeof expected !== "object") return actual === expected;
  if (actual === null || typeof actual !== "object") return false;
  return Object.entries(expected).every(([key, value]) => contains(actual[key], value));
}

// ---------------------------------------------------------------------------------------------
// Requests

function uniqueId(prefix) {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** The small run the test follows: bundled task "wine", greedy, 2 nodes, offline coder, local executor. */
function runRequest(runId) {
  return {
    run_id: runId,
    seed: 0,
    task: { kind: "bundled", name: "wine" },
    policy: { kind: "greedy", num_drafts: 2, debug_prob: 0.5 },
    model: { name: "airad-offline/coder" },
    budget: { max_nodes: 2, wall_seconds: 600 },
    executor: { kind: "local", node_timeout_s: 120, memory_mb: 4096 },
    labels: { client: "conformance.mjs" },
  };
}

/** A valid request with no run_id, the base of the malformed set. */
function smallRequest() {
  return {
    task: { kind: "bundled", name: "wine" },
    policy: { kind: "greedy", num_drafts: 1 },
    budget: { max_nodes: 1 },
    executor: { kind: "local", node_timeout_s: 120, memory_mb: 4096 },
    seed: 0,
  };
}

function withChange(change) {
  const request = smallRequest();
  change(request);
  return request;
}

/** Invalid UTF-8: a 0xFF byte inside a JSON string. */
function invalidUtf8() {
  const text = JSON.stringify(smallRequest()).replace('"wine"', '"wine\u0000"');
  const bytes = encoder.encode(text);
  bytes[bytes.indexOf(0)] = 0xff;
  return bytes;
}

/** The malformed set: what is sent, the field the rejection must name, and whether the schema can say no. */
function malformedSet() {
  const oversized = withChange((r) => { r.baseline = "print('€')\n" + "#" + "€".repeat(90_000); });
  return [
    { name: "bad type: max_nodes is a string", body: withChange((r) => { r.budget.max_nodes = "two"; }), field: "$.budget.max_nodes", schema: false },
    { name: "bad type: task is a string", body: withChange((r) => { r.task = "wine"; }), field: "$.task", schema: false },
    { name: "bad type: seed is a string", body: withChange((r) => { r.seed = "0"; }), field: "$.seed", schema: false },
    { name: "unknown policy kind", body: withChange((r) => { r.policy.kind = "greedyy"; }), field: "$.policy.kind", schema: false },
    { name: "unknown task kind", body: withChange((r) => { r.task.kind = "nosuch"; }), field: "$.task.kind", schema: false },
    { name: "unknown executor kind", body: withChange((r) => { r.executor.kind = "cloud"; }), field: "$.executor.kind", schema: false },
    { name: "unknown field", body: withChange((r) => { r.budget.max_nodez = 3; }), field: "$.budget.max_nodez", schema: false },
    { name: "over the size limit (the schema's character caps allow it)", body: oversized, field: "$", schema: true },
    { name: "invalid UTF-8", body: invalidUtf8(), field: "$", schema: null },
    { name: "not JSON", body: '{"task": {"kind": "bundled"', field: "$", schema: null },
    { name: "a JSON array", body: [smallRequest()], field: "$", schema: false },
    { name: "non-integral seed 1.5", body: withChange((r) => { r.seed = 1.5; }), field: "$.seed", schema: false },
    { name: "seed 2^53, above 2^53 - 1", body: withChange((r) => { r.seed = MAX_SEED + 1; }), field: "$.seed", schema: false },
  ];
}

/** What the schema says of a malformed body: true (valid), false, or null (not JSON a client could send). */
function schemaVerdict(schemas, body) {
  if (body instanceof Uint8Array) return null;
  let value = body;
  if (typeof body === "string") {
    try { value = JSON.parse(body); } catch { return null; }
  }
  return schemas.run(value);
}

// ---------------------------------------------------------------------------------------------
// The checks against a running daemon

async function checkRun(ctx) {
  const runId = uniqueId("js-run");
  const request = runRequest(runId);
  report("run request matches its schema", ctx.schemas.run(request), errorsOf(ctx.schemas.run));
  const ack = await publish(ctx.js, REQUESTS, request);
  const events = await follow(ctx.js, EVENT_STREAM, EVENTS + runId, runEnded);
  const finished = events.at(-1);
  report("run follows to run.finished", finished.type === "run.finished" && finished.reason === "max_nodes",
    { run_id: runId, last: finished.type, reason: finished.reason, detail: finished.detail, field: finished.field });
  checkEvents("every run event matches events.schema.json", ctx.schemas, events, runId);
  const submitted = events[0];
  report("run.submitted carries the request, defaults filled in, and its request_seq",
    submitted.type === "run.submitted" && submitted.request_seq === ack.seq && contains(submitted.request, request),
    { request_seq: submitted.request_seq, ack_seq: ack.seq, policy: submitted.request?.policy });
  return { runId, request, ack, events };
}

async function checkNodes(ctx, run) {
  const nodes = rebuildNodes(run.events);
  const ids = [...nodes.keys()];
  const finished = run.events.at(-1);
  const orderly = ids.every((id, index) => id === index) && [...nodes.values()].every((n) => n.endings === 1);
  report("nodes: ids 0..n-1, each ended once (node.tested or node.failed)",
    orderly && ids.length === run.request.budget.max_nodes,
    [...nodes.values()].map(({ node_id, operator, status, endings }) => ({ node_id, operator, status, endings })));
  const best = bestNode(nodes);
  report("best node rebuilt from node.scored = run.finished.best_node_id",
    (best?.node_id ?? null) === finished.best_node_id,
    { rebuilt: best && { node_id: best.node_id, score: best.score, metric: best.metric }, best_node_id: finished.best_node_id });
  const kv = await ctx.js.views.kv(RUNS_BUCKET, { bindOnly: true });
  const summary = (await kv.get(run.runId))?.json();
  const buggy = [...nodes.values()].filter((n) => n.status === "failed" || n.valid === false).length;
  const mine = {
    status: "finished", nodes: nodes.size, buggy,
    best_node_id: best?.node_id ?? null, best_score: best?.score ?? null,
    best_test_score: best?.test ?? null, last_seq: run.events.length, finish_reason: finished.reason,
  };
  const theirs = summary && Object.fromEntries(Object.keys(mine).map((key) => [key, summary[key]]));
  report(`rebuilt nodes agree with the run's summary in ${RUNS_BUCKET}`, contains(theirs, mine), { rebuilt: mine, summary: theirs });
}

async function checkMalformed(ctx) {
  const cases = malformedSet();
  for (const item of cases) {
    item.bytes = bytesOf(item.body);
    item.verdict = schemaVerdict(ctx.schemas, item.body);
    item.ack = await publish(ctx.js, REQUESTS, item.bytes);
  }
  for (const item of cases) {
    await attempt(`malformed: ${item.name}`, () => checkRejection(ctx, item));
  }
  // Exactly one event each: the rejected requests are handled, and nothing came after their rejection.
  const rejected = cases.filter((item) => item.rejected);
  for (const item of rejected) await handled(ctx.jsm, item.ack.seq);
  await sleep(1500);
  const extra = [];
  for (const item of rejected) {
    const last = await lastEvent(ctx.jsm, EVENT_STREAM, `${EVENTS}req-${item.ack.seq}`);
    if (last?.seq !== 1) extra.push({ case: item.name, last: last && { type: last.type, seq: last.seq } });
  }
  report("malformed: exactly one event each", extra.length === 0, extra.length ? extra : `${rejected.length} rejected requests, one event each`);
}

async function checkRejection(ctx, item) {
  const runId = `req-${item.ack.seq}`;
  const [event] = await follow(ctx.js, EVENT_STREAM, EVENTS + runId, () => true, REJECTION_TIMEOUT_MS);
  item.rejected = event.type === "run.rejected";
  const excerpt = new TextDecoder("utf-8").decode(item.bytes.slice(0, EXCERPT_BYTES));
  const problems = [];
  if (event.type !== "run.rejected") problems.push(`got ${event.type}`);
  if (event.field !== item.field) problems.push(`field ${JSON.stringify(event.field)}, expected ${item.field}`);
  if (typeof event.reason !== "string" || !event.reason) problems.push("no reason");
  if ((event.reason ?? "").length > MAX_REASON_CHARS || (event.field ?? "").length > MAX_FIELD_CHARS) problems.push("field or reason over its cap");
  if (item.field === "$" && item.name.startsWith("over") && item.bytes.length <= MAX_REQUEST_BYTES) problems.push("not over the limit");
  if (event.request_seq !== item.ack.seq) problems.push(`request_seq ${event.request_seq}, ack seq ${item.ack.seq}`);
  if (event.excerpt !== excerpt) problems.push("excerpt is not the request's first 500 bytes");
  const schema = eventProblem(ctx.schemas, event);
  if (schema) problems.push(schema);
  if (item.schema !== null && item.verdict !== item.schema) problems.push(`the run request schema says valid=${item.verdict}`);
  report(`malformed: ${item.name}`, problems.length === 0,
    { run_id: runId, bytes: item.bytes.length, field: event.field, reason: event.reason?.slice(0, 200), schema_valid: item.verdict, problems });
}

async function checkMalformedWithRunId(ctx) {
  const runId = uniqueId("js-bad");
  const ack = await publish(ctx.js, REQUESTS, { ...smallRequest(), run_id: runId, seed: 1.5 });
  const [event] = await follow(ctx.js, EVENT_STREAM, EVENTS + runId, () => true, REJECTION_TIMEOUT_MS);
  await handled(ctx.jsm, ack.seq);
  const elsewhere = await lastEvent(ctx.jsm, EVENT_STREAM, `${EVENTS}req-${ack.seq}`);
  const ok = event.type === "run.rejected" && event.field === "$.seed" && event.request_seq === ack.seq && elsewhere === null;
  report("malformed with a free run_id: run.rejected on airad.events.<its run_id>", ok,
    { run_id: runId, type: event.type, field: event.field, request_seq: event.request_seq, ack_seq: ack.seq, on_req_subject: elsewhere?.type ?? null });
}

async function checkIdenticalResend(ctx, run) {
  const ack = await publish(ctx.js, REQUESTS, run.request);
  await handled(ctx.jsm, ack.seq);
  await sleep(1500);
  const last = await lastEvent(ctx.jsm, EVENT_STREAM, EVENTS + run.runId);
  const elsewhere = await lastEvent(ctx.jsm, EVENT_STREAM, `${EVENTS}req-${ack.seq}`);
  const [submitted] = await follow(ctx.js, EVENT_STREAM, EVENTS + run.runId, () => true);
  const ok = last?.seq === run.events.length && elsewhere === null
    && submitted.request_seq === run.ack.seq && submitted.request_seq !== ack.seq;
  report("reused id, identical request: nothing new; run.submitted.request_seq is the first publish's", ok, {
    run_id: run.runId, first_ack: run.ack.seq, resend_ack: ack.seq, request_seq: submitted.request_seq,
    events_before: run.events.length, last_after: last && { type: last.type, seq: last.seq },
    on_req_subject: elsewhere && { type: elsewhere.type, field: elsewhere.field, reason: elsewhere.reason },
  });
}

async function checkDifferentRequestUnderTakenId(ctx, run) {
  const different = { ...run.request, seed: 7 };
  const ack = await publish(ctx.js, REQUESTS, different);
  const subject = `${EVENTS}req-${ack.seq}`;
  const [event] = await follow(ctx.js, EVENT_STREAM, subject, () => true, REJECTION_TIMEOUT_MS);
  await handled(ctx.jsm, ack.seq);
  await sleep(1500);
  const last = await lastEvent(ctx.jsm, EVENT_STREAM, EVENTS + run.runId);
  const ok = event.type === "run.rejected" && event.field === "$.run_id" && event.request_seq === ack.seq
    && last?.seq === run.events.length && !eventProblem(ctx.schemas, event);
  report("reused id, different request: run.rejected on airad.events.req-<its ack seq>, field $.run_id", ok, {
    subject, type: event.type, field: event.field, reason: event.reason, request_seq: event.request_seq, ack_seq: ack.seq,
    taken_run_last: last && { type: last.type, seq: last.seq },
  });
}

function experimentRequest(experimentId) {
  return {
    experiment_id: experimentId,
    tasks: [{ kind: "bundled", name: "wine" }],
    solvers: [{ name: "greedy", policy: { kind: "greedy", num_drafts: 1 }, model: { name: "airad-offline/coder" } }],
    seeds: [0],
    budget: { max_nodes: 1, wall_seconds: 600 },
    executor: { kind: "local", node_timeout_s: 120, memory_mb: 4096 },
    labels: { client: "conformance.mjs" },
  };
}

async function checkExperiment(ctx) {
  const experimentId = uniqueId("js-exp");
  const request = experimentRequest(experimentId);
  report("experiment request matches its schema", ctx.schemas.experiment(request), errorsOf(ctx.schemas.experiment));
  const ack = await publish(ctx.js, EXPERIMENTS, request);
  const events = await follow(ctx.js, EXPERIMENT_STREAM, EXPERIMENT_EVENTS + experimentId, experimentEnded);
  const types = events.map((e) => e.type);
  const [accepted] = events;
  const started = events.filter((e) => e.type === "experiment.run_started");
  const ended = events.filter((e) => e.type === "experiment.run_finished");
  const done = events.at(-1);
  const runId = `${experimentId}-t0-greedy-s0`;
  const problems = [];
  const stream = streamProblem(events, "experiment_id", experimentId);
  if (stream) problems.push(stream);
  if (!types.every((type) => EXPERIMENT_TYPES.includes(type))) problems.push(`undocumented types ${types}`);
  if (accepted.type !== "experiment.accepted" || accepted.request_seq !== ack.seq || !contains(accepted.request, request)) {
    problems.push(`first event ${accepted.type}, request_seq ${accepted.request_seq} (ack ${ack.seq})`);
  }
  if (started.length !== 1 || !contains(started[0], { run_id: runId, task_index: 0, solver: "greedy", seed: 0 })) {
    problems.push(`run_started ${JSON.stringify(started)}`);
  }
  if (ended.length !== 1 || ended[0].run_id !== runId) problems.push(`run_finished ${JSON.stringify(ended.map((e) => e.run_id))}`);
  const result = ended[0]?.result ?? {};
  const absent = RESULT_KEYS.filter((key) => !(key in result));
  if (absent.length) problems.push(`result lacks ${absent}`);
  // `runs` (planned) and `complete` (how many of them ended) are counts.
  if (accepted.runs !== 1 || !contains(done, { type: "experiment.done", runs: 1, complete: 1, cancelled: false })) problems.push(`ended with ${JSON.stringify(done)}`);
  report("experiment: accepted, one run started and finished, done", problems.length === 0,
    { experiment_id: experimentId, types, runs: accepted.runs, done_runs: done.runs, result, problems });
  return { runId, result };
}

async function checkExperimentRun(ctx, experimentRun) {
  const events = await follow(ctx.js, EVENT_STREAM, EVENTS + experimentRun.runId, runEnded);
  checkEvents("every event of the experiment's run matches events.schema.json", ctx.schemas, events, experimentRun.runId);
  const nodes = rebuildNodes(events);
  const finished = events.at(-1);
  const { result } = experimentRun;
  const best = bestNode(nodes);
  const mine = {
    status: "finished", reason: finished.reason, nodes: nodes.size, chosen_node_id: best?.node_id ?? null,
    validation: best?.score ?? null, test: best?.test ?? null,
  };
  report("experiment result agrees with its run's events", contains(result, mine) && finished.best_node_id === mine.chosen_node_id,
    { rebuilt: mine, result, best_node_id: finished.best_node_id });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const [natsUrl, workDir] = process.argv.slice(2);
  if (!natsUrl || !workDir) {
    console.error("usage: node conformance.mjs NATS_URL WORK_DIR");
    process.exit(2);
  }
  const schemas = compileSchemas();
  await attempt("example requests", () => checkExamples(schemas, workDir));
  const nc = await connect({ servers: natsUrl.split(",") });
  const ctx = { nc, js: nc.jetstream(), jsm: await nc.jetstreamManager(), schemas };
  try {
    const run = await attempt("run", () => checkRun(ctx));
    if (run) {
      await attempt("nodes", () => checkNodes(ctx, run));
      await attempt("reused id, identical request", () => checkIdenticalResend(ctx, run));
      await attempt("reused id, different request", () => checkDifferentRequestUnderTakenId(ctx, run));
    }
    await attempt("malformed set", () => checkMalformed(ctx));
    await attempt("malformed with a free run_id", () => checkMalformedWithRunId(ctx));
    const experimentRun = await attempt("experiment", () => checkExperiment(ctx));
    if (experimentRun) await attempt("experiment's run", () => checkExperimentRun(ctx, experimentRun));
  } finally {
    await nc.drain();
  }
  process.exit(failures.length ? 1 : 0);
}

await main();
