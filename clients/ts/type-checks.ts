/**
 * Compile-time checks of the types generated from openapi/ppio.yaml (run by `make check-ts`; never
 * executed). Responses must accept every documented variant and values the server may add later;
 * requests must refuse what the spec refuses.
 */
import type {
  ErrorBody,
  ListModelsQuery,
  ModelList,
  PPIOClient,
  TaskResult,
  TaskStatus,
  Txt2ImgBody,
} from "./client";
import { isFailed, isSucceeded, nextPollDelayMs } from "./client";

// An unknown status parses as a string, compiles in comparisons, and is neither final state.
const warmingUp: TaskResult = { task: { task_id: "t-1", status: "TASK_STATUS_WARMING_UP" } };
const status: TaskStatus = warmingUp.task.status;
export const unknownIsRunning: boolean = !isSucceeded(status) && !isFailed(status);

// The docs' payload variants: TTL and seed as strings or integers, `{}` or null NSFW results.
export const documentedVariants: TaskResult[] = [
  {
    extra: { seed: "392212448", enable_nsfw_detection: false },
    task: { task_id: "t-2", task_type: "TXT_TO_IMG", status: "TASK_STATUS_SUCCEED", reason: "", eta: 0 },
    images: [{ image_url: "https://x/0.jpeg", image_url_ttl: "3600", image_type: "jpeg", nsfw_detection_result: null }],
    videos: [],
    audios: [],
  },
  {
    task: { task_id: "t-3", task_type: "QWEN_IMAGE_TEXT_TO_IMAGE", status: "TASK_STATUS_SUCCEED" },
    images: [{ image_url: "https://x/1.webp", image_url_ttl: 3600, image_type: "avif", nsfw_detection_result: {} }],
  },
];

// Open enums in responses: a model type and an error reason outside the documented lists.
export const locon: ModelList = { models: [{ type: { name: "locon", display_name: "LyCORIS" }, status: 2 }] };
export const newReason: ErrorBody = { code: 418, reason: "SOMETHING_NEW", message: "", metadata: {} };

// Query names are the API's dotted names, and the filter enums are closed.
export const query: ListModelsQuery = { "filter.types": "checkpoint", "pagination.limit": 10 };
// @ts-expect-error `locon` is not a value `filter.types` accepts
export const badQuery: ListModelsQuery = { "filter.types": "locon" };

// A request needs the required fields, and a closed enum refuses other values.
export const minimal: Txt2ImgBody = {
  request: {
    model_name: "sd_xl_base_1.0.safetensors",
    prompt: "a cute dog",
    width: 1024,
    height: 1024,
    image_num: 1,
    steps: 20,
    guidance_scale: 7.5,
    sampler_name: "DPM++ 2M Karras",
  },
};
export const badSampler: Txt2ImgBody = {
  // @ts-expect-error the sampler enum is closed in requests
  request: { ...minimal.request, sampler_name: "Euler z" },
};
// @ts-expect-error `request` is required
export const noRequest: Txt2ImgBody = { extra: { response_image_type: "png" } };

// The client's surface.
export type Submit = PPIOClient["submitTxt2img"];
export const firstDelay: number = nextPollDelayMs(warmingUp.task, 0, { minIntervalMs: 500, maxIntervalMs: 10_000 });
