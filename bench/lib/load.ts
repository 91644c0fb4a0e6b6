/**
 * A small closed-loop HTTP load generator: `concurrency` workers, each with at most one request
 * in flight, over a keep-alive undici Pool of as many connections. Closed loop means the offered
 * load adapts to the server (a worker sends its next request when the previous answer is read),
 * which is what a platform with N parallel reconcilers does, and never overloads a queue.
 */
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
}

export class LoadTarget {
  readonly pool: Pool;

  constructor(
    readonly origin: string,
    readonly connections: number,
  ) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  async send(request: BenchRequest, expectStatus: number): Promise<void> {
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
  }

  /** Runs `concurrency` closed loops until `durationMs` has passed (requests in flight finish). */
  async run(options: {
    concurrency: number;
    durationMs: number;
    request: () => BenchRequest;
    expectStatus: number;
  }): Promise<LoadResult> {
    let ops = 0;
    const start = performance.now();
    const end = start + options.durationMs;
    const worker = async () => {
      while (performance.now() < end) {
        await this.send(options.request(), options.expectStatus);
        ops++;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const elapsedMs = performance.now() - start;
    return { ops, elapsedMs, opsPerSecond: (ops * 1000) / elapsedMs, msPerOp: elapsedMs / ops };
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
  return { ops, elapsedMs, opsPerSecond: (ops * 1000) / elapsedMs, msPerOp: elapsedMs / ops };
}
