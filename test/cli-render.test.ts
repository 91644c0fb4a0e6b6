/**
 * `cfy-broker render`: what it prints is what the broker sends and answers. Each case renders
 * through the real CLI and compares with what the real broker did for the same request against
 * the emulator (deployment inputs and labels as Cloudify stored them, the 202 body, the
 * binding's workflow parameters and credentials).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { example, nthPositionOf, runCli, tempDir, writeConfig } from "./fixtures/configs/helpers.js";
import { raw } from "./support/emulator.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  type Stack,
  startStack,
  waitFor,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
let dir: string;

beforeAll(async () => {
  stack = await startStack();
  dir = await tempDir("cli-render-");
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

const json = (value: unknown) => JSON.stringify(value);

describe("cfy-broker render", { timeout: 90_000 }, () => {
  it("prints the deployment id, labels and inputs the broker sends, and its dashboard URL", async () => {
    const instanceId = newId();
    const parameters = { db_name: "orders", extensions: ["pg_trgm"] };
    const body = provisionBody(PG.small, { parameters });
    const provisioned = await stack.osb.put(instancePath(instanceId), body, ASYNC);
    expect(provisioned.status).toBe(202);
    expect((await waitForInstanceOperation(stack.osb, instanceId)).body.state).toBe("succeeded");
    const deployment = (await raw(stack.emulator!, "GET", `/api/v3.1/deployments/osb-${instanceId}`)).json();

    const result = await runCli([
      "render",
      "--plan",
      "postgresql/small",
      "--instance-id",
      instanceId,
      "--parameters",
      json(parameters),
      "--context",
      json(body.context),
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const rendered = JSON.parse(result.stdout);
    const create = rendered.provision.create_deployment;
    expect(create.deployment_id).toBe(deployment.id);
    expect(create.blueprint_id).toBe(deployment.blueprint_id);
    // Cloudify adds the blueprint's defaults for the inputs the broker does not send.
    expect(deployment.inputs).toMatchObject(create.inputs);
    const labels = deployment.labels
      .filter((l: { key: string }) => l.key.startsWith("osb-"))
      .map((l: { key: string; value: string }) => ({ [l.key]: l.value }));
    expect(create.labels).toEqual(expect.arrayContaining(labels));
    expect(create.labels).toHaveLength(labels.length);
    expect(rendered.provision.answer.dashboard_url).toBe(provisioned.body.dashboard_url);
    expect(rendered.provision.workflow).toEqual({ workflow_id: "install", parameters: {} });
  });

  it("given outputs and capabilities, prints the credentials a bind answers; secrets masked unless --reveal", async () => {
    const instanceId = newId();
    const bindingId = newId();
    await stack.osb.put(instancePath(instanceId), provisionBody(PG.small), ASYNC);
    expect((await waitForInstanceOperation(stack.osb, instanceId)).body.state).toBe("succeeded");
    const bindPath = `${instancePath(instanceId)}/service_bindings/${bindingId}`;
    const bound = await stack.osb.put(
      bindPath,
      { service_id: PG.service, plan_id: PG.small, parameters: { privileges: "readonly" } },
      ASYNC,
    );
    expect(bound.status).toBe(202);
    expect((await waitFor(() => stack.osb.get(`${bindPath}/last_operation`))).body.state).toBe("succeeded");
    const binding = (await stack.osb.get(bindPath)).body;
    const deploymentPath = `/api/v3.1/deployments/osb-${instanceId}`;
    const outputs = (await raw(stack.emulator!, "GET", `${deploymentPath}/outputs`)).json().outputs;
    const capabilities = (await raw(stack.emulator!, "GET", `${deploymentPath}/capabilities`)).json()
      .capabilities;

    const args = [
      "render",
      "--plan",
      PG.small,
      "--instance-id",
      instanceId,
      "--binding-id",
      bindingId,
      "--context",
      json(provisionBody().context),
      "--bind-parameters",
      json({ privileges: "readonly" }),
      "--outputs",
      json(outputs),
      "--capabilities",
      json(capabilities),
    ];
    const revealed = await runCli([...args, "--reveal"]);
    expect(revealed.code).toBe(0);
    const answer = JSON.parse(revealed.stdout).bind.answer;
    expect(answer.credentials).toEqual(binding.credentials);
    expect(answer.endpoints).toEqual(binding.endpoints);
    expect(JSON.parse(revealed.stdout).bind.workflow).toEqual({
      workflow_id: "create_user",
      parameters: { username: binding.credentials.username, privileges: "readonly" },
    });

    const masked = await runCli(args);
    expect(masked.code).toBe(0);
    const password = binding.credentials.password as string;
    expect(masked.stdout).not.toContain(password);
    const credentials = JSON.parse(masked.stdout).bind.answer.credentials;
    expect(credentials.password).toBe("********");
    expect(credentials.uri).toBe(binding.credentials.uri.replace(password, "********"));
    expect(credentials.host).toBe(binding.credentials.host);
  });

  it("masks Cloudify secrets and generated passwords wherever they appear", async () => {
    const file = await writeConfig(
      dir,
      example([
        "            ca_certificate: \"{{secret 'postgresql_ca_cert'}}\"\n",
        '            ca_certificate: "{{secret \'postgresql_ca_cert\'}}"\n            generated: "{{password 20}}"\n            both: "ca={{secret \'postgresql_ca_cert\'}}"\n',
      ]),
    );
    const args = [
      "render",
      "--config",
      file,
      "--plan",
      "large",
      "--parameters",
      json({ db_name: "x" }),
      "--outputs",
      json({ host: "h", port: 5432, database: "d", jdbc_url: "jdbc:postgresql://h/d" }),
      "--capabilities",
      json({
        admin_username: "adm",
        admin_password: "Adm1nPassw0rd",
        uri: "postgres://adm:Adm1nPassw0rd@h/d",
      }),
      "--secrets",
      json({ postgresql_ca_cert: "CA-CERT-PEM-TEXT" }),
    ];
    const result = await runCli(args);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/Adm1nPassw0rd|CA-CERT-PEM-TEXT/);
    const credentials = JSON.parse(result.stdout).bind.answer.credentials;
    expect(credentials).toMatchObject({
      host: "h",
      password: "********",
      uri: "postgres://adm:********@h/d",
      ca_certificate: "********",
      generated: "********",
      both: "ca=********",
    });
    const revealed = JSON.parse((await runCli([...args, "--reveal"])).stdout).bind.answer.credentials;
    expect(revealed.generated).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(revealed.both).toBe("ca=CA-CERT-PEM-TEXT");
  });

  it("points a template that fails to render at its file:line:column", async () => {
    const result = await runCli(["render", "--plan", "small", "--outputs", json({ host: "h" })]);
    expect(result.code).toBe(1);
    const text = example();
    const at = nthPositionOf(text, '"{{outputs.port}}"', 1);
    expect(result.stderr).toContain(
      `broker.yaml:${at.line}:${at.column}: error: template "services[0].plans[0].binding.credentials.port": variable "outputs.port" is not set`,
    );
  });

  it("refuses parameters the plan's schema refuses, like the broker (exit 1)", async () => {
    const result = await runCli(["render", "--plan", "small", "--parameters", json({ db_name: "Bad Name" })]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Invalid provision parameters: parameters\.db_name: must match pattern/);
    expect(result.stdout).toBe("");
  });

  it("exit 2 for an unknown or ambiguous plan, or a malformed --parameters", async () => {
    const unknown = await runCli(["render", "--plan", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no plan "nope" in the catalog \(plans: postgresql\/small, /);
    const bad = await runCli(["render", "--plan", "small", "--parameters", "{oops"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--parameters: not JSON/);
  });

  it("says on stderr when a from_blueprint plan renders without its blueprint's inputs", async () => {
    const result = await runCli(["render", "--plan", "large", "--parameters", json({ db_name: "x" })]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("plan postgresql/large: derived parameter schemas omitted");
    expect(JSON.parse(result.stdout).provision.create_deployment.inputs.db_name).toBe("x");
  });
});
