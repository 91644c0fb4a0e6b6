/**
 * PostgreSQL-backed state store, shared by every broker replica that points at the same schema.
 *
 * READS stay synchronous from memory, as the StateStore contract requires: each replica keeps a
 * cache of all records. The cache follows the database by commit seq: every commit bumps the
 * single `head` row (whose row lock also orders commits, so seq order is commit order) and stamps
 * the rows it writes with that seq; a catch-up fetches `records WHERE seq > last seen`. Catch-ups
 * run on NOTIFY (sent by every commit), on a timer as a fallback, and whenever a caller needs
 * fresh data: inside `exclusive` (before the domain decides) and before each OSB request.
 *
 * WRITES. commit() validates up front like the file store, then queues; one writer turns what is
 * queued into one single-statement transaction (bump head, upsert rows, notify): group commit,
 * one round trip. It resolves once PostgreSQL has committed. A failure rejects the group with
 * StateUnavailableError; the transaction applied nothing and the store stays usable.
 *
 * COORDINATION (several replicas):
 * - `exclusive(key, work)`: a session advisory lock on `key` held while `work` runs, with the
 *   cache brought up to date after the lock is taken, so read-decide-commit on one instance is
 *   serialised across replicas. A replica that dies loses its connection and PostgreSQL
 *   releases its locks.
 * - Leases (`claim`/`holds`/`release`): a row per operation naming the replica driving it until
 *   `expires_at`; renewed every third of the lease while held; taken over by another replica
 *   only after it expired.
 *
 * WHY `pg` WITH A POOL. node-postgres is the maintained, pure-JavaScript PostgreSQL driver (no
 * native build), with TLS, LISTEN/NOTIFY and a pool. Pools rather than one connection because
 * locks are held per session: each instance being worked on holds one connection for its lock
 * (`lockPool`), while commits and catch-ups use another pool, so a lock holder always finds a
 * connection for its commit and cannot deadlock the process.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import type { Logger } from "../../log/logger.js";
import { silentLogger } from "../../log/logger.js";
import { type PreparedCommit, prepareCommit } from "../changes.js";
import { StateNotOpenError, StateUnavailableError } from "../errors.js";
import type { PreparedChange } from "../memory-image.js";
import type {
  Change,
  JsonValue,
  RecordFilter,
  SharedStateCoordination,
  StateExport,
  StateHealth,
  StateRecord,
  StateStore,
} from "../types.js";
import { WriterLoop } from "../writer-loop.js";
import { migrate } from "./migrations.js";
import { VersionedMemory } from "./versioned-memory.js";

export interface PostgresStateStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Schema holding the broker's tables (created if absent). Default `cfy_broker`. */
  schema?: string;
  /** TLS options for the driver (ca, cert, key, rejectUnauthorized); false/undefined = per URL. */
  ssl?: pg.ClientConfig["ssl"];
  /** Connections per pool (two pools). Default 10. */
  poolSize?: number;
  /** How long an operation's lease lasts without renewal. Default 30 s. */
  leaseSeconds?: number;
  /** Fallback catch-up period when no NOTIFY arrives. Default 1 s. */
  refreshIntervalMs?: number;
  /**
   * How long the database may take to answer a catch-up (or to accept a connection) before it
   * counts as unreachable: health turns unwritable, mutations are refused at once (503) instead
   * of waiting on a connection that may never answer. Default 10 s (a loaded database, or host,
   * must not count as unreachable).
   */
  unreachableAfterMs?: number;
  /** Registers this process as a replica (leases, readiness); tools (export, rekey) leave it out. */
  replica?: { configFingerprint: string };
  logger?: Logger;
}

export interface ReplicaInfo {
  id: string;
  hostname: string;
  pid: number;
  configFingerprint: string;
  startedAt: string;
  seenAt: string;
}

type QueueItem = { commit: PreparedCommit; resolve: () => void; reject: (err: Error) => void };

const DEFAULT_SCHEMA = "cfy_broker";

/** A promise resolved from outside (Promise.withResolvers needs Node 22). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
/** Deleted rows stay this long so replicas catching up see the deletion; then they are purged. */
const DELETED_RETENTION_SECONDS = 600;
const PURGE_INTERVAL_MS = 60_000;
/** Rows per query when loading the whole state (open, and after a long disconnection). */
const RELOAD_PAGE_ROWS = 2000;

export class PostgresStateStore implements StateStore, SharedStateCoordination {
  readonly schema: string;
  /** Unique per process start: lease owner and replica row id. */
  readonly replicaId = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  readonly #options: PostgresStateStoreOptions;
  readonly #log: Logger;
  readonly #leaseSeconds: number;
  readonly #t: string;
  readonly #channel: string;
  #pool: pg.Pool | undefined;
  #lockPool: pg.Pool | undefined;
  /** One connection for catch-ups (one runs at a time): the probe of reachability never queues behind load. */
  #syncPool: pg.Pool | undefined;
  #listener: pg.Client | undefined;
  #listening = false;
  #status: "new" | "opening" | "open" | "closing" | "closed" = "new";
  #memory = new VersionedMemory();
  /** Every commit up to this seq is in the cache. */
  #seen = 0;
  #queue: QueueItem[] = [];
  readonly #writer = new WriterLoop(
    () => this.#drain(),
    () => this.#queue.length > 0,
  );
  #syncRunning: Promise<void> | undefined;
  #syncNext: Promise<void> | undefined;
  /** Leases held: key -> local time (ms) until which the lease is certainly ours. */
  readonly #held = new Map<string, number>();
  /** Leases of other replicas: key -> local time before which they cannot have expired. */
  readonly #othersUntil = new Map<string, number>();
  #timers: NodeJS.Timeout[] = [];
  #health: StateHealth = { writable: true };
  /** Resolves when health turns unwritable: waits on the database give up then. */
  #whenUnhealthy = signal();
  #configFingerprint: string | undefined;
  #replicas: ReplicaInfo[] = [];
  #drift = "";

  constructor(options: PostgresStateStoreOptions) {
    this.#options = options;
    this.schema = options.schema ?? DEFAULT_SCHEMA;
    this.#log = options.logger ?? silentLogger;
    this.#leaseSeconds = options.leaseSeconds ?? 30;
    this.#t = `"${this.schema.replaceAll('"', '""')}"`;
    this.#channel = `cfy_broker_state:${this.schema}`.slice(0, 63);
    this.#configFingerprint = options.replica?.configFingerprint;
  }

  #unreachableAfterMs(): number {
    return this.#options.unreachableAfterMs ?? 10_000;
  }

  get leaseSeconds(): number {
    return this.#leaseSeconds;
  }

  #clientConfig(): pg.ClientConfig {
    return {
      connectionString: this.#options.url,
      ...(this.#options.ssl ? { ssl: this.#options.ssl } : {}),
      application_name: "cfy-broker",
      keepAlive: true,
      connectionTimeoutMillis: this.#unreachableAfterMs(),
    };
  }

  #newPool(queryTimeoutMs: number, options: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({
      ...this.#clientConfig(),
      max: this.#options.poolSize ?? 10,
      query_timeout: queryTimeoutMs,
      idleTimeoutMillis: 30_000,
      ...options,
    });
    // An idle connection that breaks (database restarted, network cut) must not crash the process.
    pool.on("error", (err) => this.#log.warn({ err }, "state database connection lost"));
    return pool;
  }

  async open(): Promise<void> {
    if (this.#status !== "new") throw new Error("PostgresStateStore.open() can only be called once");
    this.#status = "opening";
    this.#pool = this.#newPool(15_000);
    // Lock waits can be as long as the work of the holder on another replica, and waiting for a
    // free lock connection is load, not an outage: no connection timeout here (a wait gives up
    // when the catch-up probe finds the database unreachable, see exclusive()).
    this.#lockPool = this.#newPool(120_000, { connectionTimeoutMillis: 0 });
    this.#syncPool = this.#newPool(this.#unreachableAfterMs(), { max: 1 });
    try {
      const client = await this.#pool.connect();
      // The migration's own query fails if the connection breaks; the event must not crash us.
      const ignore = () => {};
      client.on("error", ignore);
      let failure: Error | undefined;
      try {
        await migrate(client, this.schema, this.#log);
      } catch (err) {
        failure = err as Error;
        throw err;
      } finally {
        client.release(failure);
        client.off("error", ignore);
      }
      await this.#reload();
      if (this.#options.replica) {
        await this.#register();
        this.#noteReplicas(await this.replicas());
      }
      await this.#listen().catch((err) =>
        this.#log.warn({ err }, "cannot LISTEN for state changes yet; polling meanwhile"),
      );
      this.#status = "open";
    } catch (err) {
      this.#status = "closed";
      await this.#endPools();
      throw err;
    }
    this.#every(this.#options.refreshIntervalMs ?? 1000, () => this.#refresh());
    if (this.#options.replica) this.#every((this.#leaseSeconds * 1000) / 3, () => this.#renew());
    this.#every(PURGE_INTERVAL_MS, () => this.#purgeDeleted());
  }

  async close(): Promise<void> {
    if (this.#status === "closed") return;
    if (this.#status !== "open") throw new StateNotOpenError(`close() while ${this.#status}`);
    this.#status = "closing";
    for (const timer of this.#timers) clearInterval(timer);
    await this.#writer.idle();
    if (this.#options.replica) {
      // Hand our operations over at once rather than after the lease expires.
      await this.#pool!.query(`DELETE FROM ${this.#t}.leases WHERE owner = $1`, [this.replicaId]).catch(
        () => {},
      );
      await this.#pool!.query(`DELETE FROM ${this.#t}.replicas WHERE id = $1`, [this.replicaId]).catch(
        () => {},
      );
    }
    this.#held.clear();
    this.#status = "closed";
    await this.#endPools();
  }

  async #endPools(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => {});
    await this.#pool?.end().catch(() => {});
    await this.#lockPool?.end().catch(() => {});
    await this.#syncPool?.end().catch(() => {});
  }

  #every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.#status !== "open") return;
      running = true;
      void task().finally(() => {
        running = false;
      });
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  // ---- reads (from the cache) ----

  get<T = JsonValue>(collection: string, id: string): T | undefined {
    this.#assertReadable("get");
    return this.#memory.state.get(collection, id) as T | undefined;
  }

  list<T = JsonValue>(collection: string): StateRecord<T>[] {
    this.#assertReadable("list");
    return this.#memory.state.list(collection) as StateRecord<T>[];
  }

  select<T = JsonValue>(collection: string, filter: RecordFilter): StateRecord<T>[] {
    this.#assertReadable("select");
    return this.#memory.state.select(collection, filter) as StateRecord<T>[];
  }

  collections(): string[] {
    this.#assertReadable("collections");
    return this.#memory.state.collections();
  }

  export(): StateExport {
    this.#assertReadable("export");
    return this.#memory.state.export();
  }

  health(): StateHealth {
    return this.#health;
  }

  #assertReadable(what: string): void {
    if (this.#status !== "open" && this.#status !== "closing") throw new StateNotOpenError(what);
  }

  #healthy(): void {
    if (this.#health.writable) return;
    this.#log.info("state database reachable again");
    this.#health = { writable: true };
    this.#whenUnhealthy = signal();
  }

  /**
   * Marks the database unreachable (health, readiness, the engine pauses) and returns the error
   * for the caller. `stored: "unknown"` when a commit was sent and its answer lost.
   */
  #unhealthy(what: string, err: unknown, stored: "no" | "unknown" = "no"): StateUnavailableError {
    const error = new StateUnavailableError(err, { reason: "its state database cannot be reached", stored });
    const cause = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);
    if (this.#health.writable) {
      this.#log.error({ err }, `state database unavailable (${what})`);
      // recovering: the store comes back by itself when the database answers (not a liveness failure).
      this.#health = {
        writable: false,
        recovering: true,
        reason: `state database unreachable since ${new Date().toISOString()} (${what}: ${cause})`,
      };
      this.#whenUnhealthy.resolve();
    }
    return error;
  }

  /** While the database is known unreachable, work that needs it is refused at once. */
  #refuseWhileUnreachable(): StateUnavailableError | undefined {
    if (this.#health.writable) return undefined;
    return new StateUnavailableError(undefined, { reason: "its state database cannot be reached" });
  }

  // ---- writes ----

  commit(changes: readonly Change[]): Promise<void> {
    if (this.#status !== "open") return Promise.reject(new StateNotOpenError(`commit while ${this.#status}`));
    let commit: PreparedCommit;
    try {
      commit = prepareCommit(changes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (commit.changes.length === 0) return Promise.resolve();
    const refused = this.#refuseWhileUnreachable();
    if (refused) return Promise.reject(refused);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ commit, resolve, reject });
      this.#writer.kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 256);
      try {
        await this.#write(batch.flatMap((item) => item.commit.changes));
        for (const item of batch) item.resolve();
      } catch (err) {
        // Sent, and no answer: PostgreSQL may have committed it. Callers retry the same request
        // (idempotent) and the next catch-up brings the cache up to date either way.
        const error = this.#unhealthy("commit", err, "unknown");
        void this.sync().catch(() => {});
        for (const item of batch) item.reject(error);
      }
    }
  }

  /** One transaction (a single statement): bump head, upsert every row, notify. */
  async #write(changes: PreparedChange[]): Promise<void> {
    // Within a group the last change of a record wins (an upsert may touch a row once).
    const finals = new Map<string, PreparedChange>();
    for (const change of changes) finals.set(VersionedMemory.key(change.collection, change.id), change);
    const collections: string[] = [];
    const ids: string[] = [];
    const values: (string | null)[] = [];
    for (const change of finals.values()) {
      collections.push(change.collection);
      ids.push(change.id);
      values.push(change.type === "put" ? JSON.stringify(change.value) : null);
    }
    const { rows } = await this.#pool!.query<{ seq: number }>(
      `WITH h AS (UPDATE ${this.#t}.head SET seq = seq + 1 RETURNING seq),
            w AS (INSERT INTO ${this.#t}.records (collection, id, value, seq, updated_at)
                  SELECT c, i, v::json, (SELECT seq FROM h), now()
                  FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, i, v)
                  ON CONFLICT (collection, id) DO UPDATE
                  SET value = EXCLUDED.value, seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at
                  RETURNING 1),
            n AS (SELECT pg_notify($4, (SELECT seq FROM h)::text) AS sent)
       SELECT (SELECT seq FROM h)::float8 AS seq, (SELECT count(*) FROM w) AS written, (SELECT count(*) FROM n) AS notified`,
      [collections, ids, values, this.#channel],
    );
    const seq = rows[0]!.seq;
    this.#healthy();
    for (const change of finals.values()) {
      this.#memory.apply(change.collection, change.id, change.type === "put" ? change.value : null, seq);
    }
    if (this.#seen === seq - 1) this.#seen = seq;
    else void this.sync().catch(() => {});
  }

  // ---- following the database ----

  /**
   * Brings the cache up to date with every commit made (by any replica) before the call. Callers
   * arriving while a catch-up runs share the next one, which starts after theirs arrived.
   */
  sync(): Promise<void> {
    if (this.#status !== "open" && this.#status !== "opening")
      return Promise.reject(new StateNotOpenError("sync"));
    if (!this.#syncRunning) {
      this.#syncRunning = this.#catchUp().finally(() => {
        this.#syncRunning = undefined;
      });
      return this.#syncRunning;
    }
    this.#syncNext ??= this.#syncRunning
      .catch(() => {})
      .then(() => {
        this.#syncNext = undefined;
        return this.sync();
      });
    return this.#syncNext;
  }

  async #catchUp(): Promise<void> {
    const since = this.#seen;
    let rows: Array<{
      head: number;
      horizon: number;
      collection: string | null;
      id: string;
      value: JsonValue | null;
      seq: number;
    }>;
    try {
      // A short timeout of its own: the catch-up is also the probe that tells readiness (and
      // every request) that the database stopped answering.
      // The limit covers connecting too (a new connection may hang in a partition); the pool is
      // this probe's own, so no wait behind other work counts as the database not answering.
      let timer: NodeJS.Timeout | undefined;
      const query = this.#syncPool!.query({
        text: `SELECT h.seq::float8 AS head, h.horizon::float8 AS horizon, r.collection, r.id, r.value, r.seq::float8 AS seq
         FROM ${this.#t}.head h LEFT JOIN ${this.#t}.records r ON r.seq > $1`,
        values: [since],
        query_timeout: this.#unreachableAfterMs(),
      } as pg.QueryConfig);
      query.catch(() => {});
      ({ rows } = await Promise.race([
        query,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#unreachableAfterMs()} ms`)),
            this.#unreachableAfterMs(),
          );
        }),
      ]).finally(() => clearTimeout(timer)));
    } catch (err) {
      throw this.#unhealthy("refresh", err);
    }
    this.#healthy();
    const { head, horizon } = rows[0]!;
    if (horizon > since) {
      // Deletions we have not seen were purged meanwhile: only a full reload is exact.
      await this.#reload();
      return;
    }
    for (const row of rows) {
      if (row.collection !== null) this.#memory.apply(row.collection, row.id, row.value, row.seq);
    }
    if (head > this.#seen) this.#seen = head;
  }

  /** Loads every live record as of one snapshot (at open, and after a long disconnection). */
  async #reload(): Promise<void> {
    const client = await this.#pool!.connect();
    const onError = (err: Error) => this.#unhealthy("reload", err);
    client.on("error", onError);
    let failure: Error | undefined;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const { rows: heads } = await client.query<{ head: number }>(
        `SELECT seq::float8 AS head FROM ${this.#t}.head`,
      );
      // In pages along the primary key, within the one snapshot: no single query has to carry
      // the whole state (at 100,000 instances one did not finish within the query timeout on a
      // loaded host), and the database reads the next page while this process applies the last.
      type Row = { collection: string; id: string; value: JsonValue; seq: number };
      const page = (after: Row | undefined) =>
        client.query<Row>(
          `SELECT collection, id, value, seq::float8 AS seq FROM ${this.#t}.records
           WHERE value IS NOT NULL ${after ? "AND (collection, id) > ($1, $2)" : ""}
           ORDER BY collection, id LIMIT ${RELOAD_PAGE_ROWS}`,
          after ? [after.collection, after.id] : [],
        );
      const present = new Set<string>();
      let pending = page(undefined);
      pending.catch(() => {});
      for (;;) {
        const { rows } = await pending;
        const last = rows.length === RELOAD_PAGE_ROWS ? rows.at(-1) : undefined;
        if (last) {
          pending = page(last);
          pending.catch(() => {}); // awaited on the next turn; a failure meanwhile must not go unhandled
        }
        for (const row of rows) {
          present.add(VersionedMemory.key(row.collection, row.id));
          this.#memory.apply(row.collection, row.id, row.value, row.seq);
        }
        if (!last) break;
      }
      await client.query("COMMIT");
      const head = heads[0]!.head;
      this.#memory.forgetAbsent(present, head);
      if (head > this.#seen) this.#seen = head;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      failure = err as Error;
      throw err;
    } finally {
      // A connection that failed is destroyed rather than pooled.
      client.release(failure);
      client.off("error", onError);
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client(this.#clientConfig());
    client.on("notification", () => {
      void this.sync().catch(() => {});
    });
    client.on("error", (err) => {
      this.#log.warn({ err }, "state change listener lost its connection; polling until it is back");
      this.#listening = false;
      if (this.#listener === client) this.#listener = undefined;
      void client.end().catch(() => {});
    });
    await client.connect();
    try {
      await client.query(`LISTEN ${client.escapeIdentifier(this.#channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    this.#listener = client;
    this.#listening = true;
  }

  /** Timer: catch up (NOTIFY may have been missed) and re-establish LISTEN after a disconnection. */
  async #refresh(): Promise<void> {
    try {
      await this.sync();
      if (!this.#listening) await this.#listen();
    } catch {
      // #unhealthy logged it (or LISTEN failed: polling covers it); the next tick tries again.
    }
  }

  async #purgeDeleted(): Promise<void> {
    await this.#pool!.query(
      `WITH d AS (DELETE FROM ${this.#t}.records
                  WHERE value IS NULL AND updated_at < now() - make_interval(secs => $1) RETURNING seq)
       UPDATE ${this.#t}.head SET horizon = GREATEST(horizon, (SELECT max(seq) FROM d))
       WHERE EXISTS (SELECT 1 FROM d)`,
      [DELETED_RETENTION_SECONDS],
    ).catch((err) => this.#log.debug({ err }, "purging deleted rows failed; will retry"));
  }

  // ---- coordination between replicas ----

  async exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (this.#status !== "open") throw new StateNotOpenError("exclusive");
    const refused = this.#refuseWhileUnreachable();
    if (refused) throw refused;
    // A connection checked out of the pool has no error listener: one breaking while we hold it
    // (the database restarts, the network drops it) would be an uncaught 'error' event.
    const onError = (err: Error) => this.#unhealthy("lock connection", err);
    let client: pg.PoolClient | undefined;
    let abandoned = false;
    const acquire = (async () => {
      const c = await this.#lockPool!.connect();
      c.on("error", onError);
      client = c;
      if (abandoned) throw new Error("abandoned: the state database stopped answering");
      await c.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [this.#lockName(key)]);
      if (abandoned) throw new Error("abandoned: the state database stopped answering");
      await this.sync();
    })();
    try {
      // Waiting for the lock may legitimately take as long as another replica's work, but not
      // past the moment the database is found unreachable: then the request gets its 503 now.
      await Promise.race([
        acquire,
        this.#whenUnhealthy.promise.then(() => {
          throw this.#refuseWhileUnreachable() ?? new StateUnavailableError(undefined);
        }),
      ]);
    } catch (err) {
      abandoned = true;
      // Destroying the connection releases a lock it may hold (now, or once the acquisition ends).
      const destroy = () => {
        client?.release(err instanceof Error ? err : new Error(String(err)));
        client?.off("error", onError);
      };
      if (client) destroy();
      else acquire.then(destroy, destroy);
      acquire.catch(() => {});
      throw err instanceof StateUnavailableError ? err : this.#unhealthy("lock", err);
    }
    if (!client) throw new Error("unreachable: lock acquired without a connection");
    try {
      return await work();
    } finally {
      try {
        await client.query({
          text: "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
          values: [this.#lockName(key)],
          query_timeout: this.#unreachableAfterMs(),
        } as pg.QueryConfig);
        client.release();
      } catch (err) {
        client.release(err as Error);
      } finally {
        // After release: the pool's own listener is attached again by then.
        client.off("error", onError);
      }
    }
  }

  #lockName(key: string): string {
    return `cfy-broker:${this.schema}:${key}`;
  }

  /** Takes or renews the lease on `key` for this replica; false while another replica's is valid. */
  async claim(key: string): Promise<boolean> {
    if (!this.#options.replica) return true;
    const now = Date.now();
    if ((this.#held.get(key) ?? 0) > now) return true;
    // Another replica's lease: no need to ask again before it can have expired.
    if ((this.#othersUntil.get(key) ?? 0) > now) return false;
    const { rows } = await this.#pool!.query<{ mine: number; remaining: number | null }>(
      `WITH claimed AS (
         INSERT INTO ${this.#t}.leases (key, owner, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE leases.owner = EXCLUDED.owner OR leases.expires_at < now()
         RETURNING 1)
       SELECT (SELECT count(*) FROM claimed)::int AS mine,
              (SELECT extract(epoch FROM expires_at - now()) FROM ${this.#t}.leases WHERE key = $1)::float8 AS remaining`,
      [key, this.replicaId, this.#leaseSeconds],
    );
    if (rows[0]!.mine === 1) {
      this.#othersUntil.delete(key);
      if (!this.#held.has(key)) this.#log.debug({ key }, "lease taken");
      this.#held.set(key, now + this.#leaseSeconds * 1000);
      return true;
    }
    this.#held.delete(key);
    // At most a second: a replica shutting down cleanly deletes its leases before expiry.
    this.#othersUntil.set(key, now + Math.min(1000, Math.max(0, (rows[0]!.remaining ?? 0) * 1000)));
    return false;
  }

  /** Whether this replica certainly still holds the lease (it may have expired while the database was unreachable). */
  holds(key: string): boolean {
    if (!this.#options.replica) return true;
    return (this.#held.get(key) ?? 0) > Date.now();
  }

  async release(key: string): Promise<void> {
    this.#othersUntil.delete(key);
    if (!this.#options.replica || !this.#held.delete(key)) return;
    await this.#pool!.query(`DELETE FROM ${this.#t}.leases WHERE key = $1 AND owner = $2`, [
      key,
      this.replicaId,
    ]);
  }

  /**
   * Timer: extends every lease held and marks this replica alive. A lease that has expired is
   * lost, never extended: from its expiry on another replica may take the operation over.
   */
  async #renew(): Promise<void> {
    const keys = [...this.#held.keys()];
    const requestedAt = Date.now();
    for (const [key, until] of this.#othersUntil) if (until < requestedAt) this.#othersUntil.delete(key);
    try {
      if (keys.length) {
        const { rows } = await this.#pool!.query<{ key: string }>(
          `UPDATE ${this.#t}.leases SET expires_at = now() + make_interval(secs => $3)
           WHERE owner = $1 AND key = ANY($2::text[]) AND expires_at > now() RETURNING key`,
          [this.replicaId, keys, this.#leaseSeconds],
        );
        const renewed = new Set(rows.map((row) => row.key));
        for (const key of keys) {
          if (renewed.has(key)) this.#held.set(key, requestedAt + this.#leaseSeconds * 1000);
          else if (this.#held.delete(key)) this.#log.warn({ key }, "lease lost to another replica");
        }
      }
      await this.#heartbeat();
      this.#noteReplicas(await this.replicas());
    } catch (err) {
      this.#unhealthy("lease renewal", err);
    }
  }

  /** Rewrites the records table so no dead row version (old ciphertext after a rekey) remains. */
  async vacuumFull(): Promise<void> {
    await this.#pool!.query(`VACUUM FULL ${this.#t}.records`);
  }

  /** Replicas as of the last heartbeat (sync, for readiness and metrics). */
  knownReplicas(): ReplicaInfo[] {
    return this.#replicas;
  }

  #noteReplicas(replicas: ReplicaInfo[]): void {
    this.#replicas = replicas;
    const prints = [...new Set(replicas.map((r) => r.configFingerprint))].sort();
    const drift = prints.length > 1 ? prints.join(",") : "";
    if (drift && drift !== this.#drift) {
      this.#log.warn(
        {
          replicas: replicas.map((r) => ({ id: r.id, config_fingerprint: r.configFingerprint })),
          own: this.#configFingerprint,
        },
        "replicas run different broker.yaml versions (config fingerprints differ)",
      );
    }
    this.#drift = drift;
  }

  async #register(): Promise<void> {
    await this.#pool!.query(
      `INSERT INTO ${this.#t}.replicas (id, hostname, pid, config_fingerprint) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET config_fingerprint = EXCLUDED.config_fingerprint, seen_at = now()`,
      [this.replicaId, hostname(), process.pid, this.#configFingerprint ?? ""],
    );
  }

  async #heartbeat(): Promise<void> {
    await this.#pool!.query(
      `UPDATE ${this.#t}.replicas SET seen_at = now(), config_fingerprint = $2 WHERE id = $1`,
      [this.replicaId, this.#configFingerprint ?? ""],
    );
    // Forget replicas that stopped renewing long ago (killed without a clean shutdown).
    await this.#pool!.query(
      `DELETE FROM ${this.#t}.replicas WHERE seen_at < now() - make_interval(secs => $1)`,
      [this.#leaseSeconds * 10],
    );
  }

  /** Publishes this replica's config fingerprint (after a reload). */
  async setConfigFingerprint(fingerprint: string): Promise<void> {
    this.#configFingerprint = fingerprint;
    if (this.#options.replica && this.#status === "open") await this.#register().catch(() => {});
  }

  /** Replicas seen within a lease period, this one included. */
  async replicas(): Promise<ReplicaInfo[]> {
    const { rows } = await this.#pool!.query<{
      id: string;
      hostname: string;
      pid: number;
      config_fingerprint: string;
      started_at: Date;
      seen_at: Date;
    }>(
      `SELECT id, hostname, pid, config_fingerprint, started_at, seen_at FROM ${this.#t}.replicas
       WHERE seen_at > now() - make_interval(secs => $1) ORDER BY started_at`,
      [this.#leaseSeconds],
    );
    return rows.map((row) => ({
      id: row.id,
      hostname: row.hostname,
      pid: row.pid,
      configFingerprint: row.config_fingerprint,
      startedAt: row.started_at.toISOString(),
      seenAt: row.seen_at.toISOString(),
    }));
  }
}
