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
  | ({
      type: "http_error";
      /** Default 503. */
      status?: number;
      /** With a code the body is the manager's JSON envelope; without, an HTML page as a proxy sends. */
      errorCode?: string;
    } & RequestMatch)
  | ({ type: "drop" } & RequestMatch);

export type Fault = FaultSpec & { id: string; remaining: number | null };

export interface HttpFaultDecision {
  latencyMs: number;
  drop: boolean;
  error?: { status: number; errorCode?: string };
}

export interface WorkflowFailure {
  message: string;
  errorType: string;
}

const TYPES = ["fail_workflow", "latency", "http_error", "drop"];

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
  ["method", "path", "blueprintId", "deploymentId", "message", "errorType", "errorCode"].forEach(
    optionalString,
  );
  ["times", "ms", "status"].forEach(optionalCount);
  if (raw.type === "fail_workflow" && typeof raw.workflowId !== "string")
    throw new Error("workflowId is required");
  if (raw.type === "latency" && typeof raw.ms !== "number") throw new Error("ms is required");
  return raw as unknown as FaultSpec;
}

export class Faults {
  private faults: Fault[] = [];

  add(spec: FaultSpec): string {
    const id = newId();
    const defaultTimes = spec.type === "http_error" || spec.type === "drop" ? 1 : null;
    this.faults.push({ ...spec, id, remaining: spec.times ?? defaultTimes });
    return id;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
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
    const decision: HttpFaultDecision = { latencyMs: 0, drop: false };
    const matches = (f: RequestMatch) =>
      (f.method === undefined || f.method.toUpperCase() === method) &&
      (f.path === undefined || path.startsWith(f.path));
    for (const fault of [...this.faults]) {
      if (fault.type === "fail_workflow" || !matches(fault)) continue;
      if (fault.type === "latency") {
        decision.latencyMs += fault.ms;
        this.consume(fault);
      } else if (fault.type === "drop" && !decision.drop && !decision.error) {
        decision.drop = true;
        this.consume(fault);
      } else if (fault.type === "http_error" && !decision.drop && !decision.error) {
        decision.error = {
          status: fault.status ?? 503,
          ...(fault.errorCode ? { errorCode: fault.errorCode } : {}),
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
