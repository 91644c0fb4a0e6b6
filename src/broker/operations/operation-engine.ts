import type { Logger } from "../../log/logger.js";
import type { SharedStateCoordination, StateStore } from "../../state/index.js";
import { backoffDelay } from "../../util/backoff.js";
import { Slots } from "../../util/slots.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import type { Operation } from "../model/records.js";
import type { KeyedMutex } from "./keyed-mutex.js";
import { IN_PROGRESS } from "./operation.js";
import type { AnyStateMachine, StepOutcome } from "./steps.js";

/** A kind of resource whose operations the engine drives (instances; bindings). */
export interface ResourceKind<R extends { id: string; operation: Operation }> {
  collection: string;
  /** The log field naming a resource of this kind, e.g. `instance_id`. */
  logField: string;
  machine(operation: Operation): AnyStateMachine<R>;
  /** Records sharing a lock key never run steps concurrently (a binding locks its instance). */
  lockKey(record: R): string;
  /** Applies a finished operation's consequences; may return extra changes (e.g. tombstones). */
  onFinished?(record: R, operation: Operation): R;
}

/*
 * The engine drives instances and bindings alike and never reads a record's own fields, so it
 * holds kinds of any record type; ResourceKind is invariant in its record type, hence `any`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a kind of any record type (see above)
type SomeKind = ResourceKind<any>;
// biome-ignore lint/suspicious/noExplicitAny: the outcome of a step of any kind's machine
type SomeOutcome = StepOutcome<any>;

export interface EngineSettings {
  pollIntervalMs: number;
  /** After a start whose answer was lost, how long to look for what it created before resending. */
  lookupWindowMs: number;
  /** Cap of the exponential backoff after transient Cloudify failures. */
  maxBackoffMs: number;
}

const MAX_STEPS_PER_RUN = 20;
const SWEEP_CONCURRENCY = 16;
/**
 * Resources advanced at once, whether a request kicked them or the sweep found them due: a burst
 * of 10,000 provisions must not become 10,000 concurrent requests to the manager (and their
 * buffers in the heap). Kicks beyond it wait their turn; the request that kicked never waits.
 */
export const ENGINE_CONCURRENCY = 32;

/**
 * Drives every in-progress operation forward, whether or not the platform polls: a timer
 * sweeps all resources, requests kick the one they touched. Each step's outcome is committed
 * before the next step runs, so after a crash (kill -9 included) the operation resumes from
 * its last committed step. Transient Cloudify failures back off exponentially with jitter;
 * the operation fails only on Cloudify's refusal or at its deadline, never because the
 * broker restarted. Steps run outside the resource's lock; see `commit` for why.
 */
export class OperationEngine {
  private readonly kinds: SomeKind[] = [];
  /** Resources the engine is advancing now, and whether a kick asked for another pass. */
  private readonly running = new Map<string, { again: boolean }>();
  /** When each resource may be advanced again (in memory: waits are not worth a disk write). */
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** Runs started by kicks, awaited by stop(). */
  private readonly kicks = new Set<Promise<void>>();
  private readonly slots = new Slots(ENGINE_CONCURRENCY);

  constructor(
    private readonly deps: {
      store: StateStore;
      cloudify: CloudifyPort;
      mutex: KeyedMutex;
      /**
       * With several broker processes on one store: each operation is driven by the one process
       * holding its lease, renewed while it works; another takes it over once it expired.
       */
      leases?: Pick<SharedStateCoordination, "claim" | "holds" | "release">;
      log: Logger;
      settings: () => EngineSettings;
      now?: () => number;
      /** Told about finished operations and transient Cloudify failures (metrics). */
      observer?: {
        finished(operation: Operation): void;
        transientFailure(): void;
        /** What each sweep saw in progress: the sweep reads every record anyway, metrics need not. */
        swept?(summary: InProgressSummary): void;
      };
    },
  ) {}

  register<R extends { id: string; operation: Operation }>(kind: ResourceKind<R>): void {
    this.kinds.push(kind);
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.sweeping = this.sweep().finally(() => {
        this.sweeping = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.deps.settings().pollIntervalMs);
      });
    };
    tick();
  }

  /**
   * Starts no further step; resolves once the steps running now (from the sweep or kicked by
   * requests) have committed their outcome. An interrupted operation resumes at its current
   * step on the next start.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.sweeping;
    await Promise.all(this.kicks);
  }

  /** Advance one resource now (after a request changed it). Errors are logged, never thrown. */
  kick(collection: string, id: string): Promise<void> {
    this.due.delete(`${collection}/${id}`);
    const run = this.advance(collection, id).catch((error) =>
      this.deps.log.error({ err: error, id }, "operation step failed"),
    );
    this.kicks.add(run);
    void run.finally(() => this.kicks.delete(run));
    return run;
  }

  /**
   * Cloudify answers again after an outage: operations waiting out a transient failure's
   * backoff become due at the next sweep. The backoff grows while the manager is away (up to
   * `maxBackoffMs`), and would otherwise keep them idle long after it came back.
   */
  retryTransientNow(): void {
    for (const kind of this.kinds) {
      for (const { id, value } of this.deps.store.select<{ operation: Operation }>(
        kind.collection,
        IN_PROGRESS,
      )) {
        if (value.operation.attempts > 0) this.due.delete(`${kind.collection}/${id}`);
      }
    }
  }

  /** Every resource with an operation in progress and due now. */
  async sweep(): Promise<void> {
    // A step's outcome could not be stored (a full disk): running steps would only repeat their
    // Cloudify calls. Operations resume at the first sweep after the store can write again.
    if (!this.deps.store.health().writable) return;
    const now = this.now();
    const due: [string, string][] = [];
    const summary: InProgressSummary = { byType: {}, oldestStartedAt: undefined };
    for (const kind of this.kinds) {
      for (const { id, value } of this.deps.store.select<{ operation: Operation }>(
        kind.collection,
        IN_PROGRESS,
      )) {
        const operation = value.operation;
        summary.byType[operation.type] = (summary.byType[operation.type] ?? 0) + 1;
        const started = Date.parse(operation.startedAt);
        if (started < (summary.oldestStartedAt ?? Number.POSITIVE_INFINITY))
          summary.oldestStartedAt = started;
        if ((this.due.get(`${kind.collection}/${id}`) ?? 0) > now) continue;
        due.push([kind.collection, id]);
      }
    }
    this.deps.observer?.swept?.(summary);
    // A bounded number at a time: a thousand operations in flight must not become a thousand
    // concurrent requests to the manager every tick.
    let next = 0;
    const worker = async () => {
      while (next < due.length && !this.stopped) {
        const [collection, id] = due[next++]!;
        await this.kick(collection, id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, worker));
  }

  private async advance(collection: string, id: string): Promise<void> {
    const kind = this.kinds.find((k) => k.collection === collection);
    if (!kind) return;
    // One engine run per resource at a time; a kick during a run asks for one more pass.
    const key = `${collection}/${id}`;
    const active = this.running.get(key);
    if (active) {
      active.again = true;
      return;
    }
    const run = { again: false };
    this.running.set(key, run);
    const leases = this.deps.leases;
    // Registered as running before waiting for a slot, so kicks meanwhile only ask for a pass.
    const release = await this.slots.acquire();
    try {
      if (this.stopped) return;
      // Another process drives it (its lease is valid): it continues from the recorded step.
      if (leases && !(await leases.claim(key))) return;
      do {
        run.again = false;
        for (let i = 0; i < MAX_STEPS_PER_RUN && !this.stopped; i++) {
          if (leases && !leases.holds(key)) return;
          const record = this.deps.store.get<{ id: string; operation: Operation }>(collection, id);
          if (record?.operation.state !== "in progress") break;
          const moved = await this.runStep(kind, record);
          if (!moved) break;
        }
      } while (run.again && !this.stopped);
      const record = this.deps.store.get<{ operation?: Operation }>(collection, id);
      if (leases && record?.operation?.state !== "in progress") await leases.release(key);
    } finally {
      release();
      this.running.delete(key);
    }
  }

  /** Runs the operation's current step and commits the outcome; true when the next step may run at once. */
  private async runStep(kind: SomeKind, stored: { id: string; operation: Operation }): Promise<boolean> {
    // A checkpoint replaces these with what it committed, so the outcome builds on it.
    let record = stored;
    let op = record.operation;
    const key = `${kind.collection}/${record.id}`;
    const log = this.deps.log.child({
      [kind.logField]: record.id,
      operation: op.id,
      step: op.step,
    });
    const now = this.now();
    if (Date.parse(op.deadline) <= now) {
      await this.finish(kind, record, {
        kind: "failed",
        description: `The operation did not finish within its time limit (${op.deadline}); it was at step ${op.step}.${op.description ? ` Last status: ${op.description}` : ""}`,
      });
      return false;
    }
    const step = kind.machine(op)[op.step];
    if (!step) {
      await this.finish(kind, record, {
        kind: "failed",
        description: `Unknown step ${op.step}; this is a broker bug.`,
      });
      return false;
    }
    let outcome: SomeOutcome;
    const ctx = {
      record,
      operation: op,
      cloudify: this.deps.cloudify,
      log,
      now: () => this.now(),
      lookupWindowMs: this.deps.settings().lookupWindowMs,
      checkpoint: async (patch: Partial<Operation>) => {
        const next = { ...record, operation: { ...op, ...patch, updatedAt: iso(this.now()) } };
        if (!(await this.commit(kind, record, next))) return false;
        record = next;
        op = next.operation;
        ctx.operation = op;
        return true;
      },
    };
    try {
      outcome = await step(ctx);
    } catch (error) {
      const failure = this.deps.cloudify.classify(error);
      if (failure.kind !== "transient") {
        outcome = { kind: "failed", description: `Cloudify refused a request: ${failure.message}` };
      } else {
        const attempts = op.attempts + 1;
        // Never sooner than Cloudify asked (Retry-After on a 429 or 503).
        const backoff = Math.max(this.backoff(attempts), failure.retryAfterMs ?? 0);
        log.warn(
          { attempts, retry_in_ms: backoff, reason: failure.detail },
          "transient Cloudify failure; will retry",
        );
        this.due.set(key, now + backoff);
        this.deps.observer?.transientFailure();
        await this.commit(kind, record, {
          ...record,
          operation: {
            ...op,
            attempts,
            updatedAt: iso(now),
            notBefore: iso(now + backoff),
            description: `Cloudify is not reachable, retrying: ${failure.message}`,
          },
        });
        return false;
      }
    }

    switch (outcome.kind) {
      case "wait":
        this.due.set(key, now + this.deps.settings().pollIntervalMs);
        if (outcome.description && outcome.description !== op.description) {
          await this.commit(kind, record, {
            ...record,
            operation: { ...op, description: outcome.description, updatedAt: iso(now) },
          });
        }
        return false;
      case "continue": {
        log.debug({ next: outcome.step }, "operation step done");
        const operation: Operation = {
          ...op,
          step: outcome.step,
          attempts: 0,
          updatedAt: iso(now),
          notBefore: undefined,
        };
        operation.executionId = outcome.executionId;
        // A start belongs to its step: the next step makes its own.
        if (outcome.step !== op.step) operation.pendingStart = undefined;
        return this.commit(kind, record, { ...record, ...outcome.record, operation });
      }
      default:
        await this.finish(kind, record, outcome);
        return false;
    }
  }

  private async finish(kind: SomeKind, record: { id: string; operation: Operation }, outcome: SomeOutcome) {
    const now = iso(this.now());
    const op = record.operation;
    const operation: Operation = {
      ...op,
      updatedAt: now,
      finishedAt: now,
      notBefore: undefined,
      pendingStart: undefined,
    };
    if (outcome.kind === "succeeded") {
      operation.state = "succeeded";
      operation.description = outcome.description;
    } else if (outcome.kind === "failed") {
      operation.state = "failed";
      operation.description = outcome.description;
      if (outcome.instanceUsable !== undefined) operation.instanceUsable = outcome.instanceUsable;
      if (outcome.updateRepeatable !== undefined) operation.updateRepeatable = outcome.updateRepeatable;
    }
    let next = { ...record, ...("record" in outcome ? outcome.record : {}), operation };
    if (kind.onFinished) next = kind.onFinished(next, operation);
    this.due.delete(`${kind.collection}/${record.id}`);
    if (await this.commit(kind, record, next)) {
      this.deps.observer?.finished(operation);
      this.deps.log.info(
        {
          id: record.id,
          operation: op.id,
          type: op.type,
          state: operation.state,
          description: operation.description,
        },
        "operation finished",
      );
    }
  }

  /**
   * Commits a step's outcome, computed from `expected`, under the resource's lock, and only if
   * the resource still runs that operation at that step. Steps talk to Cloudify without the
   * lock, so a slow manager never holds a platform's request; a request that replaced the
   * operation meanwhile (a deprovision halting a provision) wins, and the outcome is dropped.
   */
  private async commit(
    kind: SomeKind,
    expected: { id: string; operation: Operation },
    record: { id: string; operation: Operation },
  ): Promise<boolean> {
    return this.deps.mutex.run(kind.lockKey(expected), async () => {
      const current = this.deps.store.get<{ operation: Operation }>(kind.collection, expected.id);
      const op = current?.operation;
      if (
        !op ||
        op.id !== expected.operation.id ||
        op.step !== expected.operation.step ||
        op.state !== "in progress"
      ) {
        this.deps.log.debug(
          { id: expected.id, operation: expected.operation.id },
          "operation replaced while its step ran; outcome dropped",
        );
        await this.keepLearnedExecutions(kind, current, record);
        return false;
      }
      await this.deps.store.commit([
        { type: "put", collection: kind.collection, id: record.id, value: record },
      ]);
      return true;
    });
  }

  /**
   * A dropped outcome still keeps what it learned about Cloudify: the executions its step
   * started belong to the resource whatever operation runs now. A deployment's create execution
   * is the instance's only proof of owning it until Cloudify writes its labels (CFY-OWN-2), so
   * forgetting it would make the deprovision that halted the provision refuse the deployment.
   */
  private async keepLearnedExecutions(
    kind: SomeKind,
    current: { operation: Operation } | undefined,
    outcome: { id: string; operation: Operation },
  ): Promise<void> {
    const known = (current as { executionIds?: string[] } | undefined)?.executionIds;
    const learned = (outcome as { executionIds?: string[] }).executionIds;
    if (!current || !known || !learned) return;
    const added = learned.filter((id) => !known.includes(id));
    if (!added.length) return;
    await this.deps.store.commit([
      {
        type: "put",
        collection: kind.collection,
        id: outcome.id,
        value: { ...current, executionIds: [...known, ...added] },
      },
    ]);
  }

  /** After the `attempts`-th transient failure: twice the poll interval, doubling, capped. */
  private backoff(attempts: number): number {
    const { pollIntervalMs, maxBackoffMs } = this.deps.settings();
    return backoffDelay({ baseDelayMs: 2 * pollIntervalMs, maxDelayMs: maxBackoffMs }, attempts);
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Operations in progress at a sweep: how many of each type, and when the oldest started (epoch ms). */
export interface InProgressSummary {
  byType: Record<string, number>;
  oldestStartedAt: number | undefined;
}
