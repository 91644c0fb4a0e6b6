import { isPlainObject, newId } from "./util.js";

/**
 * Fault injection: failing workflows and misbehaving HTTP (latency, 5xx bursts, dropped
 * connections). Manager restarts are handled by the server itself.
 */

export interface RequestMatch {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Path prefix to match, e.g. `/api/v3.1/deployments` (any when absent). */
  path?: string;
  /** How many requests/executions the fault applies to; unlimited when absent. */
  times?: number;
}

export type FaultSpec =
  | ({
      type: "fail_workflow";
      workflowId: string;
      blueprintId?: string;
      deploymentId?: string;
      message?: string;
      /** Python exception class shown in the error's last line (default RuntimeError). */
      errorType?: string;
    } & Pick<RequestMatch, "times">)
  | ({ type: "latency"; ms: number } & RequestMatch)
  /**
   * A manager that is slow for as long as a test wants: matching requests (the first `times`)
   * wait until the fault is removed, then are served as usual. Orders events without timing.
   */
  | ({ type: "hold" } & RequestMatch)
  | ({
      type: "http_error";
      /** Default 503. */
      status?: number;
      /** With a code the body is the manager's JSON envelope; without, an HTML page as a proxy sends. */
      errorCode?: string;
      /**
       * A `Retry-After` header (delta-seconds or an HTTP date), as nginx `limit_req` (429) or a
       * manager in maintenance (503) may send.
       */
      retryAfter?: string;
    } & RequestMatch)
  | ({ type: "drop" } & RequestMatch)
  | ({
      /**
       * A gateway in front of a busy manager (nginx `proxy_read_timeout`): the client gets a 504
       * (or, with `answer: "drop"`, a closed connection), but the manager still performs the
       * request `performAfterMs` later. The request's outcome is ambiguous to the client.
       */
      type: "gateway_timeout";
      /** Default "504". */
      answer?: "504" | "drop";
      /** Delay before the manager performs the request, after the client's answer. Default 300 ms. */
      performAfterMs?: number;
    } & RequestMatch);

export type Fault = FaultSpec & { id: string; remaining: number | null };

export interface HttpFaultDecision {
  latencyMs: number;
  /** Resolve when the `hold` faults that caught the request are removed. */
  holds: Promise<void>[];
  drop: boolean;
  error?: { status: number; errorCode?: string; retryAfter?: string };
  /** Answer 504 or drop, and perform the request anyway after this delay. */
  late?: { answer: "504" | "drop"; performAfterMs: number };
}

export interface WorkflowFailure {
  message: string;
  errorType: string;
}

const TYPES = ["fail_workflow", "latency", "hold", "http_error", "drop", "gateway_timeout"];

/** Validates an untrusted spec (from the admin endpoint) and returns it typed. */
export function parseFaultSpec(raw: unknown): FaultSpec {
  if (!isPlainObject(raw) || typeof raw.type !== "string" || !TYPES.includes(raw.type)) {
    throw new Error(`fault must be an object with type one of ${TYPES.join(", ")}`);
  }
  const optionalString = (key: string) => {
    if (raw[key] !== undefined && typeof raw[key] !== "string") throw new Error(`${key} must be a string`);
  };
  const optionalCount = (key: string) => {
    const v = raw[key];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) {
      throw new Error(`${key} must be a non-negative integer`);
    }
  };
  [
    "method",
    "path",
    "blueprintId",
    "deploymentId",
    "message",
    "errorType",
    "errorCode",
    "retryAfter",
  ].forEach(optionalString);
  ["times", "ms", "status", "performAfterMs"].forEach(optionalCount);
  if (raw.answer !== undefined && raw.answer !== "504" && raw.answer !== "drop")
    throw new Error('answer must be "504" or "drop"');
  if (raw.type === "fail_workflow" && typeof raw.workflowId !== "string")
    throw new Error("workflowId is required");
  if (raw.type === "latency" && typeof raw.ms !== "number") throw new Error("ms is required");
  return raw as unknown as FaultSpec;
}

export class Faults {
  private faults: Fault[] = [];
  /** Open gates of `hold` faults, by id: they stay closed after `times` is used up, until removed. */
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void }>();

  add(spec: FaultSpec): string {
    const id = newId();
    if (spec.type === "hold") {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => {
        open = resolve;
      });
      this.gates.set(id, { promise, open });
    }
    const defaultTimes =
      spec.type === "http_error" || spec.type === "drop" || spec.type === "gateway_timeout" ? 1 : null;
    this.faults.push({ ...spec, id, remaining: spec.times ?? defaultTimes });
    return id;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    const gate = this.gates.get(id);
    this.gates.delete(id);
    gate?.open();
    return this.faults.length !== before || gate !== undefined;
  }

  clear(): void {
    this.faults = [];
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
  }

  private consumeHold(fault: Fault): void {
    // Used up: stop catching requests, but keep the gate of those caught closed until removed.
    if (fault.remaining === null) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f.id !== fault.id);
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  private consume(fault: Fault): void {
    if (fault.remaining === null) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.remove(fault.id);
  }

  /** Decides what happens to one incoming request; consumes the faults that apply. */
  forRequest(method: string, path: string): HttpFaultDecision {
    const decision: HttpFaultDecision = { latencyMs: 0, holds: [], drop: false };
    const matches = (f: RequestMatch) =>
      (f.method === undefined || f.method.toUpperCase() === method) &&
      (f.path === undefined || path.startsWith(f.path));
    for (const fault of [...this.faults]) {
      if (fault.type === "fail_workflow" || !matches(fault)) continue;
      if (fault.type === "latency") {
        decision.latencyMs += fault.ms;
        this.consume(fault);
      } else if (fault.type === "hold") {
        const gate = this.gates.get(fault.id);
        if (gate) decision.holds.push(gate.promise);
        this.consumeHold(fault);
      } else if (fault.type === "gateway_timeout" && !decision.drop && !decision.error && !decision.late) {
        decision.late = { answer: fault.answer ?? "504", performAfterMs: fault.performAfterMs ?? 300 };
        this.consume(fault);
      } else if (fault.type === "drop" && !decision.drop && !decision.error && !decision.late) {
        decision.drop = true;
        this.consume(fault);
      } else if (fault.type === "http_error" && !decision.drop && !decision.error && !decision.late) {
        decision.error = {
          status: fault.status ?? 503,
          ...(fault.errorCode ? { errorCode: fault.errorCode } : {}),
          ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {}),
        };
        this.consume(fault);
      }
    }
    return decision;
  }

  /** Whether an execution of this workflow should fail now; consumes the fault when it does. */
  forWorkflow(workflowId: string, blueprintId: string, deploymentId: string): WorkflowFailure | undefined {
    const fault = this.faults.find(
      (f) =>
        f.type === "fail_workflow" &&
        f.workflowId === workflowId &&
        (f.blueprintId === undefined || f.blueprintId === blueprintId) &&
        (f.deploymentId === undefined || f.deploymentId === deploymentId),
    );
    if (fault?.type !== "fail_workflow") return undefined;
    this.consume(fault);
    return {
      message: fault.message ?? `Injected failure of workflow '${workflowId}'`,
      errorType: fault.errorType ?? "RuntimeError",
    };
  }
}
