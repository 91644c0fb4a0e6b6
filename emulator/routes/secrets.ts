import type { App } from "../app.js";
import { badParameters, ManagerError, notFound } from "../errors.js";
import { listReply } from "../http/listing.js";
import { bodyBool, type RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import type { SecretRecord } from "../state/records.js";
import { renderSecret } from "../state/render.js";
import { nowIso, pyList } from "../util.js";
import { validateId } from "./common.js";

/** Secrets (MGR `resources_v3/secrets.py`); values never appear in lists or write responses. */

const VISIBILITIES = ["private", "tenant", "global"];

function getSecret(app: App, ctx: RequestContext): SecretRecord {
  const secret = app.store.tenant(ctx.tenantName).secrets.get(ctx.param("key"));
  if (!secret) throw notFound("Secret", ctx.param("key"));
  return secret;
}

function visibilityOf(value: unknown, fallback: string): string {
  const v = value ?? fallback;
  if (typeof v !== "string" || !VISIBILITIES.includes(v)) {
    throw badParameters(
      `Invalid visibility: \`${String(v)}\`. Valid visibility's values are: ${pyList(VISIBILITIES)}`,
    );
  }
  return v;
}

function secretValue(value: unknown): string {
  if (value === undefined || value === null || value === "")
    throw badParameters("The secret value can't be empty");
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function registerSecretRoutes(router: Router, base: string): void {
  const fields = Object.keys(
    renderSecret(
      {
        key: "",
        tenant: "",
        value: "",
        visibility: "tenant",
        isHiddenValue: false,
        schema: null,
        createdAt: "",
        updatedAt: "",
        createdBy: "",
      },
      undefined,
    ),
  );

  router.add("GET", `${base}/secrets`, "tenant", (ctx, app) => {
    const items = [...app.store.tenant(ctx.tenantName).secrets.values()].map((s) =>
      renderSecret(s, undefined),
    );
    return listReply(items, ctx.query, { fields, filtered: null, defaultSort: "created_at" });
  });

  router.add("PUT", `${base}/secrets/:key`, "tenant", (ctx, app) => {
    const key = ctx.param("key");
    validateId(key, "key");
    const body = ctx.json(true);
    const value = secretValue(body.value);
    const updateIfExists = bodyBool("update_if_exists", body.update_if_exists, false);
    const tenant = ctx.tenantName;
    const secrets = app.store.tenant(tenant).secrets;
    const existing = secrets.get(key);
    if (existing && !updateIfExists) {
      throw new ManagerError(
        "conflict_error",
        `<Secret id=\`${key}\` tenant=\`${tenant}\`> already exists on <Tenant name=\`${tenant}\`>`,
      );
    }
    const now = nowIso();
    const secret: SecretRecord = {
      key,
      tenant,
      value,
      visibility: visibilityOf(body.visibility, existing?.visibility ?? "tenant"),
      isHiddenValue: bodyBool("is_hidden_value", body.is_hidden_value, existing?.isHiddenValue ?? false),
      schema: body.schema ?? null,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      createdBy: existing?.createdBy ?? ctx.user.username,
    };
    secrets.set(key, secret);
    return { status: 200, body: renderSecret(secret, undefined) };
  });

  router.add("GET", `${base}/secrets/:key`, "tenant", (ctx, app) => {
    const secret = getSecret(app, ctx);
    const hiddenFromUser =
      secret.isHiddenValue && ctx.user.role !== "sys_admin" && ctx.user.username !== secret.createdBy;
    const skip = ctx.boolQuery("_skip_value", false);
    return { status: 200, body: renderSecret(secret, hiddenFromUser || skip ? "" : secret.value) };
  });

  router.add("PATCH", `${base}/secrets/:key`, "tenant", (ctx, app) => {
    const secret = getSecret(app, ctx);
    const body = ctx.json(true);
    if (body.value !== undefined && body.value !== null) secret.value = secretValue(body.value);
    if (body.visibility !== undefined && body.visibility !== null) {
      secret.visibility = visibilityOf(body.visibility, secret.visibility);
    }
    secret.isHiddenValue = bodyBool("is_hidden_value", body.is_hidden_value, secret.isHiddenValue);
    secret.updatedAt = nowIso();
    return { status: 200, body: renderSecret(secret, undefined) };
  });

  router.add("DELETE", `${base}/secrets/:key`, "tenant", (ctx, app) => {
    const secret = getSecret(app, ctx);
    app.store.tenant(ctx.tenantName).secrets.delete(secret.key);
    return { status: 204 };
  });
}
