import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { parseQuicklyWith } from "./quick-parse.js";
import { TO_JS_OPTIONS, YAML_OPTIONS } from "./source.js";

/**
 * Plain CommonJS run by a worker thread (no TypeScript loader needed in it): parses the text as
 * ConfigSource does (the quick parse, its own source text, then `yaml` where that answers
 * nothing) and answers its value only when the parse found nothing to report. The
 * plans come in batches, each asked for by the main thread (message: the batch's index) once it
 * has let requests run: reading a structured clone is one uninterrupted task, ~60-80 ms for
 * 1,000 plans in one message.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const parseQuicklyWith = ${parseQuicklyWith.toString()};
const quick = parseQuicklyWith(require(workerData.jsYaml), workerData.text);
const doc = quick ? undefined : require(workerData.yaml).parseDocument(workerData.text, workerData.options);
if (doc && (doc.errors.length || doc.warnings.length)) {
  parentPort.postMessage({ clean: false });
} else {
  const value = quick ? quick.value : doc.toJS(workerData.toJs);
  const batches = [];
  const services = value !== null && typeof value === "object" && Array.isArray(value.services) ? value.services : [];
  services.forEach((service, s) => {
    if (service === null || typeof service !== "object" || !Array.isArray(service.plans)) return;
    const plans = service.plans;
    service.plans = [];
    for (let p = 0; p < plans.length; p += workerData.batch)
      batches.push({ service: s, plans: plans.slice(p, p + workerData.batch) });
  });
  parentPort.on("message", (index) => parentPort.postMessage(batches[index]));
  parentPort.postMessage({ clean: true, value, batches: batches.length });
}
`;

/** Plans per message from the worker (1,000 plans: ~3 ms of reading each). */
const PLANS_PER_BATCH = 50;

const resolveModule = createRequire(import.meta.url).resolve;
const yamlModule = resolveModule("yaml");
const jsYamlModule = resolveModule("js-yaml");

/**
 * Parses broker.yaml's text on a worker thread, so that a reload of a large file leaves the
 * event loop to requests (YAML with source positions is most of a load's CPU). Resolves the
 * value, or undefined when the text has YAML errors or warnings or the worker could not run:
 * the caller then parses on its own thread, which reports them with their positions.
 */
export function parseOffThread(
  text: string,
  plansPerBatch = PLANS_PER_BATCH,
): Promise<{ value: unknown } | undefined> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER, {
        eval: true,
        execArgv: [],
        workerData: {
          yaml: yamlModule,
          jsYaml: jsYamlModule,
          text,
          options: YAML_OPTIONS,
          toJs: TO_JS_OPTIONS,
          batch: plansPerBatch,
        },
      });
    } catch {
      resolve(undefined);
      return;
    }
    const done = (answer: { value: unknown } | undefined) => {
      resolve(answer);
      void worker.terminate();
    };
    // The document without its plans, then each batch of plans put back in its service.
    let value: { services: { plans: unknown[] }[] } | undefined;
    let batches = 0;
    let received = 0;
    const askNext = () => {
      if (received === batches) done({ value });
      else setImmediate(() => worker.postMessage(received));
    };
    worker.on("message", (answer: Answer) => {
      if ("clean" in answer) {
        if (!answer.clean) return done(undefined);
        value = answer.value as typeof value;
        batches = answer.batches;
      } else {
        value!.services[answer.service]!.plans.push(...answer.plans);
        received++;
      }
      askNext();
    });
    worker.once("error", () => resolve(undefined));
    worker.once("exit", () => resolve(undefined));
  });
}

type Answer =
  | { clean: false }
  | { clean: true; value: unknown; batches: number }
  | { service: number; plans: unknown[] };
