/**
 * A small closed-loop HTTP load generator: `concurrency` workers, each with at most one request
 * in flight, over a keep-alive undici Pool of as many connections. Closed loop means the offered
 * load adapts to the server (a worker sends its next request when the previous answer is read),
 * which is what a platform with N parallel reconcilers does, and never overloads a queue.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Pool } from "undici";

export interface BenchRequest {
  method: "GET" | "PUT";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  ops: number;
  elapsedMs: number;
  opsPerSecond: number;
  msPerOp: number;
  /** Milliseconds of every request, when the run asked for them. */
  latencies?: number[];
  /** Requests that failed (connection errors, unexpected status), when the run counts them. */
  failures: number;
  /** The first failure's message. */
  firstFailure?: string;
}

export class LoadTarget {
  readonly pool: Pool;

  constructor(
    readonly origin: string,
    readonly connections: number,
  ) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  /** Sends one request, reads the whole answer and returns its headers. */
  async send(request: BenchRequest, expectStatus: number): Promise<IncomingHttpHeaders> {
    const response = await this.pool.request({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body,
    });
    // Read the whole body: both subject and baseline pay for transferring what they answer.
    const body = await response.body.arrayBuffer();
    if (response.statusCode !== expectStatus) {
      throw new Error(
        `${request.method} ${this.origin}${request.path}: expected ${expectStatus}, got ${response.statusCode} ${Buffer.from(body).toString("utf8").slice(0, 300)}`,
      );
    }
    return response.headers;
  }

  /** Runs `concurrency` closed loops until `durationMs` has passed (requests in flight finish). */
  async run(options: {
    concurrency: number;
    durationMs: number;
    request: () => BenchRequest;
    expectStatus: number;
    /** Record each request's latency (for percentiles). */
    latencies?: boolean;
    /** Called with every answer's headers, when it was sent and when it was read (performance.now()). */
    onAnswer?: (headers: IncomingHttpHeaders, sentAt: number, doneAt: number) => void;
    /** Ends the run early once it returns true (checked before each request). */
    stop?: () => boolean;
    /** Count failed requests (and go on) instead of ending the run with the first one. */
    countFailures?: boolean;
  }): Promise<LoadResult> {
    let ops = 0;
    let failures = 0;
    let firstFailure: string | undefined;
    const latencies: number[] | undefined = options.latencies ? [] : undefined;
    const start = performance.now();
    const end = start + options.durationMs;
    const worker = async () => {
      for (let sent = performance.now(); sent < end && !options.stop?.(); sent = performance.now()) {
        let headers: IncomingHttpHeaders;
        try {
          headers = await this.send(options.request(), options.expectStatus);
        } catch (error) {
          if (!options.countFailures) throw error;
          failures++;
          firstFailure ??= (error as Error).message;
          continue;
        }
        const done = performance.now();
        latencies?.push(done - sent);
        options.onAnswer?.(headers, sent, done);
        ops++;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const elapsedMs = performance.now() - start;
    return {
      ops,
      elapsedMs,
      opsPerSecond: (ops * 1000) / elapsedMs,
      msPerOp: elapsedMs / ops,
      latencies,
      failures,
      firstFailure,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Closed loops of an async operation (no HTTP), same shape as LoadTarget.run. */
export async function runLoops(options: {
  concurrency: number;
  durationMs: number;
  op: () => Promise<unknown>;
}): Promise<LoadResult> {
  let ops = 0;
  const start = performance.now();
  const end = start + options.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      await options.op();
      ops++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return { ops, elapsedMs, opsPerSecond: (ops * 1000) / elapsedMs, msPerOp: elapsedMs / ops, failures: 0 };
}
