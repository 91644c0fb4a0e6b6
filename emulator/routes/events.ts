import { badParameters } from "../errors.js";
import { listReply } from "../http/listing.js";
import type { Router } from "../http/router.js";
import type { EventRecord } from "../state/records.js";
import { renderEvent } from "../state/render.js";

/**
 * Events and logs (MGR `resources_v3/events.py`): equality filters on the flat fields, ILIKE on
 * `message`/`operation`, `node_id`, `_range=timestamp,from,to`, default page size 10 000, and
 * pagination metadata without `filtered`.
 */

function likeToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    .replace(/%/g, ".*")
    .replace(/_/g, ".");
  return new RegExp(`^${escaped}$`, "is");
}

function eventFields(): string[] {
  const probe: EventRecord = {
    storageId: 0,
    tenant: "",
    type: "cloudify_event",
    timestamp: "",
    message: "",
    level: null,
    eventType: null,
    executionId: "",
    workflowId: "",
    deploymentId: "",
    deploymentDisplayName: "",
    blueprintId: "",
    nodeName: null,
    nodeInstanceId: null,
    operation: null,
    errorCauses: null,
  };
  const keys = new Set([
    ...Object.keys(renderEvent(probe)),
    ...Object.keys(renderEvent({ ...probe, type: "cloudify_log" })),
  ]);
  return [...keys];
}

export function registerEventRoutes(router: Router, base: string): void {
  const fields = eventFields();
  router.add("GET", `${base}/events`, "tenant", (ctx, app) => {
    let events = app.store.tenant(ctx.tenantName).events;
    const q = ctx.query;
    const nodeIds = q.getAll("node_id");
    if (nodeIds.length > 0)
      events = events.filter((e) => e.nodeName !== null && nodeIds.includes(e.nodeName));
    for (const [param, get] of [
      ["message", (e: EventRecord) => e.message],
      ["operation", (e: EventRecord) => e.operation],
    ] as const) {
      const patterns = q.getAll(param).map(likeToRegExp);
      if (patterns.length > 0) events = events.filter((e) => patterns.some((p) => p.test(get(e) ?? "")));
    }
    for (const range of q.getAll("_range")) {
      const [field, from, to] = range.split(",");
      if (field !== "timestamp" && field !== "@timestamp")
        throw badParameters(`Invalid range field: ${field}`);
      events = events.filter((e) => (!from || e.timestamp >= from) && (!to || e.timestamp <= to));
    }
    const query = new URLSearchParams(q);
    const sorts = query.getAll("_sort").map((s) => s.replace("@timestamp", "timestamp"));
    query.delete("_sort");
    for (const s of sorts) query.append("_sort", s);
    return listReply(events.map(renderEvent), query, {
      fields,
      ignore: ["node_id", "message", "operation"],
      defaultSize: 10_000,
      defaultSort: "timestamp",
    });
  });
}
