/**
 * A small typed TypeScript client for the PPIO / Novita v3 async text-to-image API.
 *
 * Every type comes from openapi/ppio.yaml, the same spec the Python SDK is generated from:
 * `make client-ts` runs openapi-typescript into build/ts/schema.d.ts and `make check-ts` compiles this
 * file with `tsc --strict`. Requests go through openapi-fetch, so paths, query names
 * (`filter.types`, `pagination.cursor`, ...) and bodies are checked against the spec at compile time.
 *
 *     const ppio = createPPIOClient({ apiKey: process.env.PPIO_API_KEY! });
 *     const { task_id } = await ppio.submitTxt2img({ request: { ... } });
 *     const result = await ppio.waitForTask(task_id, { timeoutMs: 120_000 });
 *     for (const image of result.images ?? []) console.log(image.image_url);
 */
import createClient from "openapi-fetch";
import type { components, paths } from "../../build/ts/schema";

type Schemas = components["schemas"];

export type Txt2ImgBody = Schemas["Txt2ImgBody"];
export type CreateTaskResponse = Schemas["CreateTaskResponse"];
export type TaskResult = Schemas["TaskResultResponse"];
export type Task = Schemas["Task"];
export type ModelList = Schemas["ModelListResponse"];
export type ErrorBody = Schemas["ErrorBody"];
/** The query of `GET /v3/model`: `{"filter.types"?: ..., "pagination.limit"?: ..., ...}`. */
export type ListModelsQuery = NonNullable<paths["/v3/model"]["get"]["parameters"]["query"]>;

/**
 * A task status as responses carry it: one of the documented values or any other string (the server
 * may add statuses; an unknown one is not terminal). `string & {}` keeps editor completion of the
 * documented values, which a plain `TaskStatus | string` would collapse away.
 */
export type TaskStatus = Schemas["TaskStatus"] | (string & {});

export const DEFAULT_BASE_URL = "https://api.ppinfra.com";

/** Bounds of `waitForTask`. All times in milliseconds. */
export const DEFAULT_WAIT_TIMEOUT_MS = 300_000;
export const DEFAULT_MIN_POLL_INTERVAL_MS = 500;
export const DEFAULT_MAX_POLL_INTERVAL_MS = 10_000;

// --------------------------------------------------------------------------------------- errors

/** The API answered with an error status; `reason` and `message` come from its body. */
export class PPIOApiError extends Error {
  override readonly name = "PPIOApiError";
  readonly status: number;
  readonly reason: string | undefined;
  readonly body: ErrorBody | undefined;
  readonly taskId: string | undefined;

  constructor(status: number, body: ErrorBody | undefined, taskId?: string) {
    const reason = body?.reason;
    super(
      `HTTP ${status}${reason ? ` ${reason}` : ""}${body?.message ? `: ${body.message}` : ""}` +
        (taskId ? ` (task ${taskId})` : ""),
    );
    this.status = status;
    this.reason = reason;
    this.body = body;
    this.taskId = taskId;
  }

  /** 429 and 5xx: a GET may be repeated; a POST may already have created (and billed) a task. */
  get isTransient(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The task ended with `TASK_STATUS_FAILED`. */
export class TaskFailedError extends Error {
  override readonly name = "TaskFailedError";
  readonly taskId: string;
  readonly reason: string;
  readonly result: TaskResult;

  constructor(result: TaskResult) {
    const reason = result.task.reason ?? "";
    super(`task ${result.task.task_id} failed${reason ? `: ${reason}` : ""}`);
    this.taskId = result.task.task_id;
    this.reason = reason;
    this.result = result;
  }
}

/** `waitForTask` reached its deadline before the task finished. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  readonly taskId: string;
  readonly lastStatus: TaskStatus | undefined;

  constructor(taskId: string, timeoutMs: number, lastStatus: TaskStatus | undefined) {
    super(`task ${taskId} did not finish within ${timeoutMs} ms (last status: ${lastStatus ?? "none"})`);
    this.taskId = taskId;
    this.lastStatus = lastStatus;
  }
}

// ------------------------------------------------------------------- polling decisions (pure)

export function isSucceeded(status: TaskStatus): boolean {
  return status === "TASK_STATUS_SUCCEED";
}

export function isFailed(status: TaskStatus): boolean {
  return status === "TASK_STATUS_FAILED";
}

export interface PollBounds {
  minIntervalMs: number;
  maxIntervalMs: number;
}

/**
 * How long to wait before the next poll: the server's `eta` when it gives one (seconds, > 0), else a
 * backoff growing 1.5x per poll; always within [minIntervalMs, maxIntervalMs].
 */
export function nextPollDelayMs(task: Task | undefined, attempt: number, bounds: PollBounds): number {
  const eta = task?.eta;
  const wanted =
    eta !== undefined && Number.isFinite(eta) && eta > 0
      ? eta * 1000
      : bounds.minIntervalMs * 1.5 ** Math.max(0, attempt);
  return Math.min(bounds.maxIntervalMs, Math.max(bounds.minIntervalMs, wanted));
}

// ----------------------------------------------------------------------------------- the client

export interface PPIOClientOptions {
  apiKey: string;
  /** `https://api.ppinfra.com` (default), `https://api.ppio.com` or `https://api.novita.ai`. */
  baseUrl?: string;
  /** A custom fetch (tests, proxies); defaults to `globalThis.fetch`. */
  fetch?: (input: Request) => Promise<Response>;
}

export interface WaitOptions {
  /** One deadline for the whole wait, every poll included. */
  timeoutMs?: number;
  minIntervalMs?: number;
  maxIntervalMs?: number;
  signal?: AbortSignal;
  /** Called with every result that is not final yet (queued, processing, or an unknown status). */
  onProgress?: (result: TaskResult) => void;
  /** Injectable time, so that tests of waiting run instantly. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** An error body as openapi-fetch hands it over (JSON when the server sent JSON, else text). */
function asErrorBody(error: unknown): ErrorBody | undefined {
  return typeof error === "object" && error !== null ? (error as ErrorBody) : undefined;
}

export function createPPIOClient(options: PPIOClientOptions) {
  const http = createClient<paths>({
    baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  /** Submits a task. Not retried here: every accepted POST creates, and bills, a task. */
  async function submitTxt2img(body: Txt2ImgBody, signal?: AbortSignal): Promise<CreateTaskResponse> {
    const { data, error, response } = await http.POST("/v3/async/txt2img", {
      body,
      ...(signal ? { signal } : {}),
    });
    if (data === undefined) throw new PPIOApiError(response.status, asErrorBody(error));
    return data;
  }

  async function getTaskResult(taskId: string, signal?: AbortSignal): Promise<TaskResult> {
    const { data, error, response } = await http.GET("/v3/async/task-result", {
      params: { query: { task_id: taskId } },
      ...(signal ? { signal } : {}),
    });
    if (data === undefined) throw new PPIOApiError(response.status, asErrorBody(error), taskId);
    return data;
  }

  async function listModels(query: ListModelsQuery = {}, signal?: AbortSignal): Promise<ModelList> {
    const { data, error, response } = await http.GET("/v3/model", {
      params: { query },
      ...(signal ? { signal } : {}),
    });
    if (data === undefined) throw new PPIOApiError(response.status, asErrorBody(error));
    return data;
  }

  /**
   * Polls until the task succeeds (returns the result), fails (throws `TaskFailedError`) or the
   * deadline passes (throws `WaitTimeoutError`). Waits follow the server's `eta`; 429 and 5xx answers
   * to a poll are waited out like a running task (a GET is safe to repeat); any other error is thrown.
   */
  async function waitForTask(taskId: string, wait: WaitOptions = {}): Promise<TaskResult> {
    const timeoutMs = wait.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const bounds: PollBounds = {
      minIntervalMs: wait.minIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_MS,
      maxIntervalMs: wait.maxIntervalMs ?? DEFAULT_MAX_POLL_INTERVAL_MS,
    };
    const now = wait.now ?? Date.now;
    const sleep = wait.sleep ?? defaultSleep;
    const deadline = now() + timeoutMs;
    let lastStatus: TaskStatus | undefined;

    for (let attempt = 0; ; attempt++) {
      let task: Task | undefined;
      try {
        const result = await getTaskResult(taskId, wait.signal);
        task = result.task;
        lastStatus = task.status;
        if (isSucceeded(task.status)) return result;
        if (isFailed(task.status)) throw new TaskFailedError(result);
        wait.onProgress?.(result);
      } catch (err: unknown) {
        if (!(err instanceof PPIOApiError && err.isTransient)) throw err;
      }
      const remaining = deadline - now();
      if (remaining <= 0) throw new WaitTimeoutError(taskId, timeoutMs, lastStatus);
      await sleep(Math.min(nextPollDelayMs(task, attempt, bounds), remaining), wait.signal);
    }
  }

  return { submitTxt2img, getTaskResult, listModels, waitForTask, http };
}

export type PPIOClient = ReturnType<typeof createPPIOClient>;
