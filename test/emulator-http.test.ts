import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { raw, startTestEmulator } from "./support/emulator.js";

/**
 * Wire-level fidelity of the emulated manager (docs/CONTRACT.md section 17, M1-M7), checked with
 * plain fetch so nothing in our own client can paper over a difference.
 */

let emulator: EmulatorHandle;

beforeAll(async () => {
  emulator = await startTestEmulator({
    // Several tests observe executions while they run (in_progress summaries, refusals while
    // busy). Phases of a few hundred milliseconds keep those windows open on a loaded CI
    // machine; the fast defaults made them flaky.
    timings: { pendingMs: 30, createEnvMs: 150, deleteEnvMs: 250, workflowMs: 250, cancelMs: 30, scale: 0.1 },
    tenants: ["default_tenant", "other_tenant"],
    users: [
      { username: "admin", password: "admin" },
      { username: "bob", password: "bobpw", role: "default", tenants: ["default_tenant"] },
    ],
  });
});

afterAll(async () => {
  await emulator.close();
});

const V = "/api/v3.1";
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition not reached");
}

async function executionOf(id: string) {
  return (await raw(emulator, "GET", `${V}/executions/${id}`)).json();
}

async function waitEnded(id: string) {
  await until(async () => ["terminated", "failed", "cancelled"].includes((await executionOf(id)).status));
  return executionOf(id);
}

/** PUT a deployment synchronously (the manager's default) and return its body. */
async function createSync(id: string, blueprint_id: string, inputs: Record<string, unknown> = {}) {
  const res = await raw(emulator, "PUT", `${V}/deployments/${id}`, { body: { blueprint_id, inputs } });
  expect(res.status).toBe(201);
  return res.json();
}

async function runWorkflow(deployment_id: string, workflow_id: string, extra: Record<string, unknown> = {}) {
  const res = await raw(emulator, "POST", `${V}/executions`, {
    body: { deployment_id, workflow_id, ...extra },
  });
  expect(res.status).toBe(201);
  return waitEnded(res.json().id);
}

describe("routing, authentication and tenants", () => {
  it("serves /ok without authentication", async () => {
    const res = await raw(emulator, "GET", `${V}/ok`, { auth: false, tenant: null });
    expect(res.status).toBe(200);
    expect(res.json()).toBe("OK");
  });

  it("answers unknown URLs and wrong methods with HTML pages, before authentication", async () => {
    const missing = await raw(emulator, "GET", `${V}/no-such-thing`, { auth: false });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("text/html");
    expect(missing.text).toContain("<title>404 Not Found</title>");
    const wrongMethod = await raw(emulator, "DELETE", `${V}/blueprints/redis`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.text).toContain("Method Not Allowed");
    expect((await raw(emulator, "GET", "/api/v3.1/deployments/")).status).toBe(404);
  });

  it("requires authentication with the documented 401 envelope", async () => {
    const none = await raw(emulator, "GET", `${V}/blueprints`, { auth: false });
    expect(none.status).toBe(401);
    expect(none.json()).toEqual({
      message: "User unauthorized: No authentication info provided",
      error_code: "unauthorized_error",
      server_traceback: null,
    });
    expect(none.headers.get("www-authenticate")).toBeNull();
    const wrong = await raw(emulator, "GET", `${V}/blueprints`, {
      headers: { Authorization: basic("admin", "x") },
    });
    expect(wrong.json().message).toBe(
      "User unauthorized: Authentication failed for <User username=`admin`>. Wrong credentials or locked account",
    );
    // Unknown users and usernames not starting with a letter fall through to "no auth".
    for (const user of ["mallory", "1admin"]) {
      const res = await raw(emulator, "GET", `${V}/blueprints`, {
        headers: { Authorization: basic(user, "x") },
      });
      expect(res.json().message).toBe("User unauthorized: No authentication info provided");
    }
  });

  it("checks API token structure and secret", async () => {
    const structure = await raw(emulator, "GET", `${V}/blueprints`, {
      auth: false,
      headers: { "Authentication-Token": "not-a-token-at-all" },
    });
    expect(structure.json().message).toBe("User unauthorized: Invalid token structure");
    const minted = (await raw(emulator, "POST", `${V}/tokens`, { body: { description: "t" } })).json();
    const [, id] = minted.value.split("-");
    const forged = await raw(emulator, "GET", `${V}/blueprints`, {
      auth: false,
      headers: { "Authentication-Token": `ctok-${id}-wrongsecret` },
    });
    expect(forged.json().message).toBe("User unauthorized: Unauthorized");
    const good = await raw(emulator, "GET", `${V}/blueprints?_include=id`, {
      auth: false,
      headers: { "Authentication-Token": minted.value },
    });
    expect(good.status).toBe(200);
    expect(good.headers.get("x-cloudify-audit-auth-method")).toBe("token");
    const shown = (await raw(emulator, "GET", `${V}/tokens/${id}`)).json();
    expect(shown.value).toBe(`ctok-${id}-********`);
    const past = await raw(emulator, "POST", `${V}/tokens`, {
      body: { expiration_date: "2001-01-01 10:00" },
    });
    expect(past.status).toBe(400);
    expect(past.json().error_code).toBe("bad_parameters_error");
  });

  it("requires a known tenant the user belongs to, except for the version call", async () => {
    const missing = await raw(emulator, "GET", `${V}/deployments`, { tenant: null });
    expect(missing.status).toBe(403);
    expect(missing.json()).toMatchObject({
      error_code: "forbidden_error",
      message: "Authorization failed: tenant not provided",
    });
    const unknown = await raw(emulator, "GET", `${V}/deployments`, { tenant: "nope" });
    expect(unknown.json().message).toBe(
      "Authorization failed: Tried to authenticate with invalid tenant name: nope",
    );
    const foreign = await raw(emulator, "GET", `${V}/deployments`, {
      tenant: "other_tenant",
      headers: { Authorization: basic("bob", "bobpw") },
    });
    expect(foreign.status).toBe(403);
    expect((await raw(emulator, "GET", "/api/version", { tenant: null })).status).toBe(200);
  });

  it("adds audit headers to every authenticated answer", async () => {
    const res = await raw(emulator, "GET", `${V}/deployments`);
    expect(res.headers.get("x-cloudify-audit-auth-method")).toBe("http_basic");
    expect(res.headers.get("x-cloudify-audit-username")).toBe("admin");
    expect(res.headers.get("x-cloudify-audit-tenant")).toBe("default_tenant");
  });

  it("keeps tenants apart", async () => {
    await createSync("t-1", "redis");
    const other = (await raw(emulator, "GET", `${V}/deployments?id=t-1`, { tenant: "other_tenant" })).json();
    expect(other.items).toEqual([]);
    const mine = (await raw(emulator, "GET", `${V}/deployments?id=t-1`)).json();
    expect(mine.items).toHaveLength(1);
  });
});

describe("request bodies and booleans", () => {
  it("refuses a non-JSON body with 415 and malformed JSON with 400", async () => {
    const plain = await raw(emulator, "PUT", `${V}/deployments/b-1`, {
      rawBody: "blueprint_id=redis",
      headers: { "Content-Type": "text/plain" },
    });
    expect(plain.status).toBe(415);
    expect(plain.json().error_code).toBe("unsupported_content_type_error");
    const broken = await raw(emulator, "PUT", `${V}/deployments/b-1`, {
      rawBody: "{",
      headers: { "Content-Type": "application/json" },
    });
    expect(broken.status).toBe(400);
    expect(broken.json().error_code).toBe("bad_parameters_error");
  });

  it("validates the deployment id, blueprint_id and the inputs type", async () => {
    const badId = await raw(emulator, "PUT", `${V}/deployments/bad%20id`, {
      body: { blueprint_id: "redis" },
    });
    expect(badId.status).toBe(400);
    expect(badId.json().message).toContain("illegal characters");
    const noBlueprint = await raw(emulator, "PUT", `${V}/deployments/b-2`, { body: {} });
    expect(noBlueprint.json().message).toBe("Missing blueprint_id in json request body");
    const strInputs = await raw(emulator, "PUT", `${V}/deployments/b-2`, {
      body: { blueprint_id: "redis", inputs: "x" },
    });
    expect(strInputs.json().message).toBe(
      "inputs parameter is expected to be of type dict but is of type str",
    );
    const unknownBp = await raw(emulator, "PUT", `${V}/deployments/b-2`, { body: { blueprint_id: "nope" } });
    expect(unknownBp.status).toBe(404);
  });

  it("accepts what the official Python client sends: nulls, string and capitalised booleans", async () => {
    const created = await raw(emulator, "PUT", `${V}/deployments/py-1?async_create=False`, {
      body: {
        blueprint_id: "redis",
        visibility: "tenant",
        skip_plugins_validation: false,
        runtime_only_evaluation: false,
        inputs: { tls: false },
        labels: [{ "osb-instance-id": "py-1" }],
      },
    });
    expect(created.status).toBe(201);
    expect(created.json().inputs.tls).toBe(false);
    const got = await raw(
      emulator,
      "GET",
      `${V}/deployments/py-1?all_sub_deployments=True&include_workdir=False`,
    );
    expect(got.status).toBe(200);
    const started = await raw(emulator, "POST", `${V}/executions`, {
      body: {
        deployment_id: "py-1",
        workflow_id: "install",
        parameters: null,
        allow_custom_parameters: "false",
        force: "False",
        dry_run: "false",
        queue: "false",
        scheduled_time: null,
        wait_after_fail: 600,
        force_status: null,
        created_by: null,
        created_at: null,
        started_at: null,
        ended_at: null,
        id: null,
        is_system_workflow: null,
        error: null,
      },
    });
    expect(started.status).toBe(201);
    expect(started.json()).toMatchObject({ status: "pending", is_dry_run: false, parameters: {} });
    const queued = await raw(emulator, "POST", `${V}/executions`, {
      body: { deployment_id: "py-1", workflow_id: "uninstall", queue: "True", force: "false" },
    });
    expect(queued.json().status).toBe("queued");
    const badBool = await raw(emulator, "POST", `${V}/executions`, {
      body: { deployment_id: "py-1", workflow_id: "uninstall", force: "maybe" },
    });
    expect(badBool.status).toBe(400);
    expect(badBool.json().message).toBe("force must be <true/false>, got maybe");
    const list = await raw(
      emulator,
      "GET",
      `${V}/executions?deployment_id=py-1&_include_system_workflows=False`,
    );
    expect(list.json().items).toHaveLength(3);
    await waitEnded(queued.json().id);
    const del = await raw(
      emulator,
      "DELETE",
      `${V}/deployments/py-1?force=False&delete_logs=False&recursive=False`,
    );
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
  });

  it("validates labels: list of one-key maps, key characters, reserved prefixes, duplicates", async () => {
    const cases: unknown[] = [
      { env: "dev" },
      [{ env: "dev", tier: "x" }],
      [{ "bad key": "x" }],
      [{ "csys-secret": "x" }],
      [{ env: "dev" }, { ENV: "dev" }],
      [{ env: 'say "hi"' }],
    ];
    for (const labels of cases) {
      const res = await raw(emulator, "PUT", `${V}/deployments/lbl-1`, {
        body: { blueprint_id: "redis", labels },
      });
      expect(res.status, JSON.stringify(labels)).toBe(400);
      expect(res.json().error_code).toBe("bad_parameters_error");
    }
    const ok = await raw(emulator, "PUT", `${V}/deployments/lbl-1`, {
      body: { blueprint_id: "redis", labels: [{ ENV: ["dev", "eu"] }, { "csys-obj-type": "service" }] },
    });
    expect(ok.json().labels.map((l: { key: string; value: string }) => `${l.key}=${l.value}`)).toEqual([
      "env=dev",
      "env=eu",
      "csys-obj-type=service",
    ]);
  });

  it("lets PATCH replace labels but not other attributes", async () => {
    await createSync("pt-1", "redis");
    const conflict = await raw(emulator, "PATCH", `${V}/deployments/pt-1`, {
      body: { blueprint_id: "postgresql" },
    });
    expect(conflict.status).toBe(409);
    const relabel = await raw(emulator, "PATCH", `${V}/deployments/pt-1`, { body: { labels: [{ a: "b" }] } });
    expect(relabel.json().labels).toMatchObject([{ key: "a", value: "b" }]);
  });
});

describe("lists", () => {
  it("wraps items with pagination metadata whose size is the page size, not the item count", async () => {
    const all = (await raw(emulator, "GET", `${V}/blueprints?_include=id`)).json();
    expect(all.metadata).toEqual({ pagination: { total: 3, size: 1000, offset: 0 }, filtered: null });
    const page = (await raw(emulator, "GET", `${V}/blueprints?_include=id&_size=2&_offset=1`)).json();
    expect(page.items).toEqual([{ id: "postgresql-v2" }, { id: "redis" }]);
    expect(page.metadata.pagination).toEqual({ total: 3, size: 2, offset: 1 });
    const everything = (
      await raw(emulator, "GET", `${V}/blueprints?_include=id&_size=1&_get_all_results=True`)
    ).json();
    expect(everything.items).toHaveLength(3);
  });

  it("accepts repeated filters (OR), repeated _include and descending _sort", async () => {
    const res = (
      await raw(
        emulator,
        "GET",
        `${V}/blueprints?id=redis&id=postgresql&_include=id&_include=state&_sort=-id`,
      )
    ).json();
    expect(res.items).toEqual([
      { id: "redis", state: "uploaded" },
      { id: "postgresql", state: "uploaded" },
    ]);
  });

  it("rejects unknown include, filter and sort fields and bad sizes", async () => {
    const include = await raw(emulator, "GET", `${V}/blueprints?_include=id,colour`);
    expect(include.status).toBe(400);
    expect(include.json().error_code).toBe("no_such_include_field_error");
    expect(include.json().message).toMatch(
      /^Include keys '\['colour'\]' do not exist\. Allowed keys are: \[/,
    );
    const filter = await raw(emulator, "GET", `${V}/deployments?colour=red`);
    expect(filter.status).toBe(400);
    expect(filter.json().error_code).toBe("bad_parameters_error");
    expect((await raw(emulator, "GET", `${V}/deployments?_sort=colour`)).status).toBe(400);
    expect((await raw(emulator, "GET", `${V}/deployments?_size=-1`)).status).toBe(400);
    expect((await raw(emulator, "GET", `${V}/deployments/t-1?_include=colour`)).status).toBe(400);
  });

  it("counts what filter rules removed in `filtered`", async () => {
    const res = await raw(emulator, "POST", `${V}/searches/deployments?_include=id`, {
      body: { filter_rules: [{ key: "id", values: ["t-1"], operator: "any_of", type: "attribute" }] },
    });
    const body = res.json();
    expect(body.items).toEqual([{ id: "t-1" }]);
    const total = (await raw(emulator, "GET", `${V}/deployments?_include=id`)).json().metadata.pagination
      .total;
    expect(body.metadata.filtered).toBe(total - 1);
    const missingKey = await raw(emulator, "POST", `${V}/searches/deployments`, {
      body: { filter_rules: [{ key: "id", values: ["t-1"], operator: "any_of" }] },
    });
    expect(missingKey.status).toBe(400);
    expect(missingKey.json()).toMatchObject({
      error_code: "invalid_filter_rule",
      err_reason: expect.any(String),
    });
    const badAttr = await raw(emulator, "POST", `${V}/searches/deployments`, {
      body: { filter_rules: [{ key: "inputs", values: ["x"], operator: "any_of", type: "attribute" }] },
    });
    expect(badAttr.json().error_code).toBe("invalid_filter_rule");
  });

  it("distinguishes label operators any_of, not_any_of, is_not, is_null and is_not_null", async () => {
    for (const [id, labels] of [
      ["lo-a", [{ team: "a" }, { scope: "lo" }]],
      ["lo-b", [{ team: "b" }, { scope: "lo" }]],
      ["lo-c", [{ scope: "lo" }]],
    ] as const) {
      expect(
        (await raw(emulator, "PUT", `${V}/deployments/${id}`, { body: { blueprint_id: "redis", labels } }))
          .status,
      ).toBe(201);
    }
    const search = async (operator: string, values: string[]) =>
      (
        await raw(emulator, "POST", `${V}/searches/deployments?_include=id`, {
          body: {
            filter_rules: [
              { key: "scope", values: ["lo"], operator: "any_of", type: "label" },
              { key: "team", values, operator, type: "label" },
            ],
          },
        })
      )
        .json()
        .items.map((i: { id: string }) => i.id);
    expect(await search("any_of", ["a"])).toEqual(["lo-a"]);
    expect(await search("not_any_of", ["a"])).toEqual(["lo-b", "lo-c"]);
    expect(await search("is_not", ["a"])).toEqual(["lo-b"]);
    expect(await search("is_null", [])).toEqual(["lo-c"]);
    expect(await search("is_not_null", [])).toEqual(["lo-a", "lo-b"]);
  });
});

describe("deployment and execution statuses", () => {
  it("summarises the latest execution and derives installation and deployment status", async () => {
    const fresh = await createSync("st-1", "postgresql", { instance_name: "pg-st" });
    expect(fresh).toMatchObject({
      installation_status: "inactive",
      deployment_status: "requires_attention",
      latest_execution_status: "completed",
      latest_execution_workflow_id: "create_deployment_environment",
    });
    const started = (
      await raw(emulator, "POST", `${V}/executions`, {
        body: { deployment_id: "st-1", workflow_id: "install" },
      })
    ).json();
    await until(async () => (await executionOf(started.id)).status === "started");
    const running = (await raw(emulator, "GET", `${V}/deployments/st-1`)).json();
    expect(running.latest_execution).toBe(started.id);
    expect(running.latest_execution_status).toBe("in_progress");
    expect(running.deployment_status).toBe("in_progress");
    const ended = await waitEnded(started.id);
    expect(ended).toMatchObject({ status: "terminated", status_display: "completed", error: "" });
    const done = (await raw(emulator, "GET", `${V}/deployments/st-1`)).json();
    expect(done).toMatchObject({
      installation_status: "active",
      deployment_status: "good",
      latest_execution_status: "completed",
    });
    expect(done.workflows.find((w: { name: string }) => w.name === "create_user").is_available).toBe(true);
  });

  it("shows definitions on GET deployment and values on /outputs", async () => {
    const dep = (await raw(emulator, "GET", `${V}/deployments/st-1`)).json();
    expect(dep.outputs.database).toEqual({
      description: "Name of the application database",
      value: { get_input: "db_name" },
    });
    const outputs = (await raw(emulator, "GET", `${V}/deployments/st-1/outputs`)).json();
    expect(outputs).toMatchObject({ deployment_id: "st-1", outputs: { database: "app", port: 5432 } });
  });

  it("keeps an execution's error null while it runs", async () => {
    const started = (
      await raw(emulator, "POST", `${V}/executions`, {
        body: { deployment_id: "st-1", workflow_id: "create_user", parameters: { username: "err_null" } },
      })
    ).json();
    expect(started.error).toBeNull();
    expect(started.started_at).toBeNull();
    await waitEnded(started.id);
  });

  it("resumes a failed execution and refuses resuming a finished one or unknown actions", async () => {
    emulator.faults.add({ type: "fail_workflow", workflowId: "uninstall", deploymentId: "st-1", times: 1 });
    const failed = await runWorkflow("st-1", "uninstall");
    expect(failed.status).toBe("failed");
    const resumed = await raw(emulator, "POST", `${V}/executions/${failed.id}`, {
      body: { action: "resume" },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.json().status).toBe("pending");
    expect((await waitEnded(failed.id)).status).toBe("terminated");
    const conflict = await raw(emulator, "POST", `${V}/executions/${failed.id}`, {
      body: { action: "force-resume" },
    });
    expect(conflict.status).toBe(409);
    const unknown = await raw(emulator, "POST", `${V}/executions/${failed.id}`, {
      body: { action: "explode" },
    });
    expect(unknown.json().error_code).toBe("bad_parameters_error");
  });

  it("lets uninstall with ignore_failure succeed through a failing task", async () => {
    await runWorkflow("st-1", "install");
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "uninstall",
      deploymentId: "st-1",
      message: "stuck",
      times: 1,
    });
    const done = await runWorkflow("st-1", "uninstall", { parameters: { ignore_failure: true } });
    expect(done.status).toBe("terminated");
    const logs = (await raw(emulator, "GET", `${V}/events?execution_id=${done.id}&type=cloudify_log`)).json();
    expect(logs.items.map((e: { message: string }) => e.message)).toEqual([
      "Task failed 'script_runner.tasks.run' -> stuck",
    ]);
    expect(logs.metadata).toEqual({ pagination: { total: 1, size: 10000, offset: 0 } });
  });
});

describe("deletion", () => {
  it("answers 204 and removes the deployment asynchronously, with its executions", async () => {
    await createSync("del-1", "redis");
    const execs = (await raw(emulator, "GET", `${V}/executions?deployment_id=del-1`)).json().items;
    const res = await raw(emulator, "DELETE", `${V}/deployments/del-1`);
    expect(res.status).toBe(204);
    expect((await raw(emulator, "GET", `${V}/deployments/del-1`)).status).toBe(200);
    const again = await raw(emulator, "DELETE", `${V}/deployments/del-1`);
    expect(again.json().error_code).toBe("dependent_exists_error");
    await until(async () => (await raw(emulator, "GET", `${V}/deployments/del-1`)).status === 404);
    expect((await raw(emulator, "GET", `${V}/executions/${execs[0].id}`)).status).toBe(404);
  });

  it("keeps the deployment when its delete workflow fails, unless forced", async () => {
    await createSync("del-2", "redis");
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "delete_deployment_environment",
      deploymentId: "del-2",
      times: 2,
    });
    await raw(emulator, "DELETE", `${V}/deployments/del-2`);
    const [deleteExec] = (
      await raw(
        emulator,
        "GET",
        `${V}/executions?deployment_id=del-2&workflow_id=delete_deployment_environment`,
      )
    ).json().items;
    expect((await waitEnded(deleteExec.id)).status).toBe("failed");
    expect((await raw(emulator, "GET", `${V}/deployments/del-2`)).json().deployment_status).toBe(
      "requires_attention",
    );
    await raw(emulator, "DELETE", `${V}/deployments/del-2?force=true`);
    await until(async () => (await raw(emulator, "GET", `${V}/deployments/del-2`)).status === 404);
  });
});

describe("secrets", () => {
  it("hides hidden values from other users and on request", async () => {
    const put = await raw(emulator, "PUT", `${V}/secrets/hidden-1`, {
      body: { value: "v1", is_hidden_value: "true" },
    });
    expect(put.status).toBe(200);
    expect(put.json().value).toBeUndefined();
    expect((await raw(emulator, "GET", `${V}/secrets/hidden-1`)).json().value).toBe("v1");
    expect((await raw(emulator, "GET", `${V}/secrets/hidden-1?_skip_value=true`)).json().value).toBe("");
    const asBob = await raw(emulator, "GET", `${V}/secrets/hidden-1`, {
      headers: { Authorization: basic("bob", "bobpw") },
    });
    expect(asBob.json().value).toBe("");
    const empty = await raw(emulator, "PUT", `${V}/secrets/empty-1`, { body: { value: "" } });
    expect(empty.status).toBe(400);
  });

  it("resolves get_secret in capabilities and reports a missing secret as an evaluation error", async () => {
    const catalogue = {
      blueprints: [
        {
          id: "with-secret",
          capabilities: { token: { value: { get_secret: "api-token" } } },
          nodes: { n: { type: "t" } },
        },
      ],
    };
    const own = await startTestEmulator({ blueprints: catalogue });
    try {
      expect(
        (await raw(own, "PUT", `${V}/deployments/ws-1`, { body: { blueprint_id: "with-secret" } })).status,
      ).toBe(201);
      const missing = await raw(own, "GET", `${V}/deployments/ws-1/capabilities`);
      expect(missing.status).toBe(400);
      expect(missing.json().error_code).toBe("deployment_capabilities_evaluation_error");
      own.state.putSecret("api-token", "t0k3n");
      expect((await raw(own, "GET", `${V}/deployments/ws-1/capabilities`)).json().capabilities).toEqual({
        token: "t0k3n",
      });
    } finally {
      await own.close();
    }
  });
});

describe("deployment updates", () => {
  it("previews without running anything, and runs overlapping an active execution", async () => {
    await createSync("up-1", "redis");
    const preview = (
      await raw(emulator, "POST", `${V}/deployment-updates/up-1/update/initiate`, {
        body: { inputs: { tls: false }, preview: true },
      })
    ).json();
    expect(preview).toMatchObject({ state: "preview", execution_id: null });
    const install = (
      await raw(emulator, "POST", `${V}/executions`, {
        body: { deployment_id: "up-1", workflow_id: "install" },
      })
    ).json();
    const update = await raw(emulator, "POST", `${V}/deployment-updates/up-1/update/initiate`, {
      body: { inputs: { tls: false } },
    });
    expect(update.status).toBe(200);
    expect(update.json().state).toBe("updating");
    await waitEnded(install.id);
    expect((await waitEnded(update.json().execution_id)).status).toBe("terminated");
    const caps = (await raw(emulator, "GET", `${V}/deployments/up-1/capabilities`)).json().capabilities;
    expect(caps.uri).toMatch(/^redis:\/\/:[A-Za-z0-9]{32}@10\./);
    const put = await raw(emulator, "PUT", `${V}/deployment-updates/up-1/update/initiate`, { body: {} });
    expect(put.status).toBe(405);
  });
});
