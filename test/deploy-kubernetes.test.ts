/**
 * deploy/kubernetes: every kustomization renders with `kubectl kustomize` (offline), every object
 * is valid against the Kubernetes (and prometheus-operator) schemas with no unknown field, and
 * the pieces fit together: selectors, named ports, mounted Secrets and the keys broker.yaml reads
 * from them, probes, the shutdown grace period. The base's broker.yaml is started for real (paths
 * mapped to temporary ones) so its probes and the metrics the alert rules use are checked
 * against a running broker.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { packageRoot } from "../src/util/package-root.js";
import {
  hasModel,
  type K8sObject,
  kubectlUnavailable,
  kustomize,
  schemaProblems,
  unknownFieldProblems,
} from "./support/kubernetes-manifests.js";
import { type Stack, startStack } from "./support/stack.js";

const ROOT = packageRoot();
const DEPLOY = join(ROOT, "deploy/kubernetes");
// The image's entrypoint reads these (Dockerfile).
const IMAGE_CONFIG = "/etc/cfy-broker/broker.yaml";
const IMAGE_STATE = "/var/lib/cfy-broker";
// broker.shutdown_timeout_seconds' default: SIGTERM to exit.
const SHUTDOWN_DEADLINE_SECONDS = 25;

const unavailable = kubectlUnavailable();
if (unavailable) {
  // CI installs what it needs; only a developer machine may lack kubectl.
  if (process.env.CI) throw new Error(`deploy-kubernetes.test.ts: ${unavailable}`);
  console.warn(`deploy-kubernetes.test.ts skipped: ${unavailable}`);
}

function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(
    found.map((o) => `${o.kind}/${o.metadata.name}`),
    `exactly one ${kind} ${name ?? ""}`,
  ).toHaveLength(1);
  return found[0]!;
}

function matches(selector: Record<string, string>, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function secretKeys(secret: K8sObject): string[] {
  return [...Object.keys(secret.stringData ?? {}), ...Object.keys(secret.data ?? {})];
}

/** Every `{file: path}` in a parsed broker.yaml. */
function filesRead(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) filesRead(item, out);
  else if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.file === "string" && Object.keys(record).length === 1) out.push(record.file);
    else for (const item of Object.values(record)) filesRead(item, out);
  }
  return out;
}

/**
 * What a pod of `workload` gets: the broker.yaml it runs (from the mounted ConfigMap), and for
 * each file broker.yaml reads, the Secret and key behind it.
 */
function podView(objects: K8sObject[], workload: K8sObject) {
  const pod = workload.spec.template.spec;
  const container = pod.containers.find((c: { name: string }) => c.name === "broker");
  const mounts = container.volumeMounts as Array<{ name: string; mountPath: string }>;
  const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
  const configMount = mounts.find((m) => IMAGE_CONFIG.startsWith(`${m.mountPath}/`))!;
  expect(configMount, `a volume mounted above ${IMAGE_CONFIG}`).toBeDefined();
  const configMap = one(objects, "ConfigMap", volume(configMount.name).configMap.name);
  const configText = configMap.data[posix.relative(configMount.mountPath, IMAGE_CONFIG)] as string;
  expect(configText, `${configMap.metadata.name} holds ${IMAGE_CONFIG}`).toEqual(expect.any(String));
  const secretFiles = filesRead(parse(configText)).map((path) => {
    const mount = mounts.find((m) => path.startsWith(`${m.mountPath}/`));
    const secretName = mount && volume(mount.name)?.secret?.secretName;
    const secret = secretName
      ? objects.find((o) => o.kind === "Secret" && o.metadata.name === secretName)
      : undefined;
    return { path, secret, key: mount ? posix.relative(mount.mountPath, path) : undefined };
  });
  return { pod, container, mounts, volume, configText, secretFiles };
}

/** broker.yaml as the pod would load it: Secret files and the environment given as the pod has them. */
function runnableConfig(
  objects: K8sObject[],
  workload: K8sObject,
  dir: string,
): { file: string; env: Record<string, string> } {
  const view = podView(objects, workload);
  let text = view.configText;
  for (const { path, secret, key } of view.secretFiles) {
    const local = join(dir, "secrets", path.replace(/^\//, ""));
    mkdirSync(join(local, ".."), { recursive: true });
    writeFileSync(local, String(secret?.stringData?.[key!] ?? ""));
    text = text.replaceAll(path, local);
  }
  const env: Record<string, string> = {};
  for (const variable of view.container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    env[variable.name] = ref
      ? String(one(objects, "Secret", ref.name).stringData?.[ref.key] ?? "")
      : String(variable.value ?? "");
  }
  const file = join(dir, "broker.yaml");
  writeFileSync(file, text);
  return { file, env };
}

describe.skipIf(unavailable !== undefined)("deploy/kubernetes", () => {
  let base: K8sObject[];
  let ha: K8sObject[];
  let registration: K8sObject[];

  beforeAll(() => {
    base = kustomize(join(DEPLOY, "base"));
    ha = kustomize(join(DEPLOY, "overlays/ha-postgres"));
    registration = kustomize(join(DEPLOY, "registration"));
  });

  it("renders objects that are valid against the Kubernetes and prometheus-operator schemas", async () => {
    for (const objects of [base, ha, registration]) {
      expect(await schemaProblems(objects.filter(hasModel))).toEqual([]);
    }
    const kinds = base.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
      ]),
    );
    // The only kind without a model is Korifi's, checked below with its own schema.
    expect([...base, ...ha, ...registration].filter((o) => !hasModel(o)).map((o) => o.kind)).toEqual([
      "CFServiceBroker",
    ]);
  });

  it("has no field the API server would refuse as unknown", () => {
    expect(unknownFieldProblems([...base, ...ha, ...registration].filter(hasModel))).toEqual([]);
    // ...and the check does catch one.
    const typo = structuredClone(one(base, "StatefulSet"));
    typo.spec.template.spec.terminationGracePeriodSecond = 40;
    expect(unknownFieldProblems([typo]).join("\n")).toMatch(/terminationGracePeriodSecond/);
  }, 120_000);

  it("runs one broker on a PersistentVolumeClaim, as the image expects", () => {
    const statefulSet = one(base, "StatefulSet");
    expect(statefulSet.spec.replicas).toBe(1);
    const { pod, container, mounts, volume } = podView(base, statefulSet);
    expect(container.image).toMatch(/cfy-broker/);
    const stateMount = mounts.find((m) => m.mountPath === IMAGE_STATE);
    expect(volume(stateMount!.name), "the state is no pod volume but a claim").toBeUndefined();
    expect(statefulSet.spec.volumeClaimTemplates.map((c: K8sObject) => c.metadata.name)).toEqual([
      stateMount!.name,
    ]);
    // The image's user can write the volume.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(container.resources.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it("gives a stopping broker its shutdown deadline, after the preStop pause, before SIGKILL", () => {
    for (const objects of [base, ha]) {
      const { pod, container } = podView(objects, one(objects, "StatefulSet"));
      const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
      const pause = preStop?.[0] === "sleep" ? Number(preStop[1]) : 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + SHUTDOWN_DEADLINE_SECONDS + 5);
    }
  });

  it("mounts every Secret key broker.yaml reads, and every Secret and ConfigMap the pod refers to exists", () => {
    for (const objects of [base, ha]) {
      const view = podView(objects, one(objects, "StatefulSet"));
      expect(view.secretFiles.length).toBeGreaterThan(0);
      for (const { path, secret, key } of view.secretFiles) {
        expect(secret, `${path} is in a mounted Secret`).toBeDefined();
        expect(secretKeys(secret!), `${secret!.metadata.name} has ${key}`).toContain(key);
      }
      for (const volume of view.pod.volumes) {
        if (volume.secret) one(objects, "Secret", volume.secret.secretName);
        if (volume.configMap) one(objects, "ConfigMap", volume.configMap.name);
      }
      for (const variable of view.container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref && !ref.optional) expect(secretKeys(one(objects, "Secret", ref.name))).toContain(ref.key);
      }
    }
  });

  it("selects the broker's pods in Services, the PodDisruptionBudget and the NetworkPolicy, by named ports", () => {
    for (const objects of [base, ha]) {
      const statefulSet = one(objects, "StatefulSet");
      const podLabels = statefulSet.spec.template.metadata.labels;
      expect(matches(statefulSet.spec.selector.matchLabels, podLabels)).toBe(true);
      const ports = (statefulSet.spec.template.spec.containers[0].ports as Array<{ name: string }>).map(
        (p) => p.name,
      );
      for (const service of objects.filter((o) => o.kind === "Service")) {
        expect(matches(service.spec.selector, podLabels), service.metadata.name).toBe(true);
        for (const port of service.spec.ports) expect(ports).toContain(port.targetPort);
      }
      expect(one(objects, "Service", statefulSet.spec.serviceName).spec.clusterIP).toBe("None");
      expect(matches(one(objects, "PodDisruptionBudget").spec.selector.matchLabels, podLabels)).toBe(true);
      const policy = one(objects, "NetworkPolicy");
      expect(matches(policy.spec.podSelector.matchLabels, podLabels)).toBe(true);
      expect(
        policy.spec.ingress.flatMap((r: K8sObject) => r.ports.map((p: { port: string }) => p.port)),
      ).toEqual(["http"]);

      // The ServiceMonitor scrapes each pod once: through exactly one Service, on a port it has.
      const monitor = one(objects, "ServiceMonitor");
      const scraped = objects.filter(
        (o) => o.kind === "Service" && matches(monitor.spec.selector.matchLabels, o.metadata.labels),
      );
      expect(scraped.map((s) => s.metadata.name)).toEqual(["cfy-broker"]);
      for (const endpoint of monitor.spec.endpoints)
        expect(scraped[0]!.spec.ports.map((p: { name: string }) => p.name)).toContain(endpoint.port);
    }
  });

  describe("the base's broker.yaml in a real broker", () => {
    let stack: Stack;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "k8s-config-"));
      const statefulSet = one(base, "StatefulSet");
      const { file, env } = runnableConfig(base, statefulSet, dir);
      // Placeholders as shipped make the broker refuse to start (the encryption key)...
      const refused = await loadConfig(file, { env, mode: "serve" });
      expect(refused.loaded).toBeUndefined();
      expect(refused.issues.map((i) => i.message).join("\n")).toMatch(/key/i);
      // ...so give it a real key, and this machine's loopback, a free port and a temporary state.
      writeFileSync(
        join(dir, "secrets/run/secrets/cfy-broker/encryption/key"),
        Buffer.alloc(32, 7).toString("base64"),
      );
      const text = readFileSync(file, "utf8");
      writeFileSync(
        file,
        text
          .replace("host: 0.0.0.0", "host: 127.0.0.1")
          .replace("port: 8080", "port: 0")
          .replace(`dir: ${IMAGE_STATE}`, `dir: ${join(dir, "state")}`)
          .replace(/url: https:\/\/cloudify\.example\.com/, `url: \${CLOUDIFY_URL}`),
      );
      stack = await startStack({ configFile: file, env });
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("answers the probes the StatefulSet declares, on the port it names", async () => {
      const { container } = podView(base, one(base, "StatefulSet"));
      const http = container.ports.find((p: { name: string }) => p.name === "http");
      expect(http.containerPort).toBe(8080); // broker.yaml's listen.port, replaced above by 0
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const get = container[probe]?.httpGet;
        expect(get?.port, probe).toBe("http");
        const response = await fetch(new URL(get.path, stack.broker.url));
        expect(response.status, `${probe} ${get.path}`).toBe(200);
      }
    });

    it("probes liveness where a restart would mend it and readiness where traffic should stop", () => {
      const { container } = podView(base, one(base, "StatefulSet"));
      expect(container.startupProbe.httpGet.path).toBe("/livez");
      expect(container.livenessProbe.httpGet.path).toBe("/livez");
      expect(container.readinessProbe.httpGet.path).toBe("/readyz");
      // The other places a platform probes from: CF's health check restarts instances, and so
      // does an orchestrator acting on the image's HEALTHCHECK.
      const manifest = parse(readFileSync(join(ROOT, "deploy/cloudfoundry/manifest.yml"), "utf8"));
      expect(manifest.applications[0]["health-check-http-endpoint"]).toBe("/livez");
      const healthcheck = readFileSync(join(ROOT, "Dockerfile"), "utf8").match(/^\s+CMD \[.*healthcheck.*$/m);
      expect(healthcheck?.[0]).toContain('"--path", "/livez"');

      // What each path answers on a Cloudify outage and a full disk: test/ops-health.test.ts and
      // test/reliability/full-disk.test.ts.
    });

    it("serves every metric the alert rules use", async () => {
      const exposition = await (await fetch(new URL("/metrics", stack.broker.url))).text();
      const served = new Set(
        exposition
          .split("\n")
          .filter((line) => line.startsWith("# TYPE "))
          .map((line) => line.split(" ")[2]!),
      );
      for (const objects of [base, ha]) {
        const rules = one(objects, "PrometheusRule").spec.groups.flatMap((g: K8sObject) => g.rules);
        expect(rules.length).toBeGreaterThan(0);
        for (const rule of rules) {
          expect(rule.alert).toMatch(/^CfyBroker/);
          expect(rule.labels.severity).toMatch(/^(critical|warning)$/);
          const used = (rule.expr as string).match(/\bosb_[a-z_]+/g) ?? [];
          for (const metric of used) {
            const family = metric.replace(/_(bucket|sum|count)$/, "");
            expect(served.has(metric) || served.has(family), `${rule.alert} uses ${metric}`).toBe(true);
          }
        }
      }
    });
  });

  it("runs several replicas on PostgreSQL in the HA overlay, with the base's broker.yaml otherwise", async () => {
    const statefulSet = one(ha, "StatefulSet");
    expect(statefulSet.spec.replicas).toBeGreaterThan(1);
    expect(statefulSet.spec.volumeClaimTemplates).toBeUndefined();
    const haConfig = parse(podView(ha, statefulSet).configText);
    const baseConfig = parse(podView(base, one(base, "StatefulSet")).configText);
    expect(haConfig.broker.state).toMatchObject({ backend: "postgres", url: { file: expect.any(String) } });
    expect({ ...haConfig, broker: { ...haConfig.broker, state: undefined } }).toEqual({
      ...baseConfig,
      broker: { ...baseConfig.broker, state: undefined },
    });
    // Valid against the schema, with the Secrets' placeholders where the pod has them.
    const dir = mkdtempSync(join(tmpdir(), "k8s-ha-config-"));
    try {
      const { file, env } = runnableConfig(ha, statefulSet, dir);
      const { issues } = await loadConfig(file, { env, mode: "validate" });
      expect(issues).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Out to PostgreSQL.
    const egressPorts = one(ha, "NetworkPolicy").spec.egress.flatMap((r: K8sObject) =>
      r.ports.map((p: K8sObject) => p.port),
    );
    expect(egressPorts).toContain(5432);
  });

  it("registers with Korifi through a CFServiceBroker that reaches the base's Service", () => {
    // Korifi's CRD (korifi.cloudfoundry.org/v1alpha1 CFServiceBroker), as a checked structural schema.
    const schema = {
      type: "object",
      required: ["apiVersion", "kind", "metadata", "spec"],
      additionalProperties: false,
      properties: {
        apiVersion: { const: "korifi.cloudfoundry.org/v1alpha1" },
        kind: { const: "CFServiceBroker" },
        metadata: { type: "object", required: ["name"] },
        spec: {
          type: "object",
          required: ["name", "url", "credentials"],
          additionalProperties: false,
          properties: {
            name: { type: "string", minLength: 1 },
            url: { type: "string", pattern: "^https?://" },
            credentials: {
              type: "object",
              required: ["name"],
              additionalProperties: false,
              properties: { name: { type: "string", minLength: 1 } },
            },
          },
        },
      },
    };
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const broker = one(registration, "CFServiceBroker");
    expect(validate(broker), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...broker, spec: { ...broker.spec, credential: {} } })).toBe(false);

    const credentials = one(registration, "Secret", broker.spec.credentials.name);
    expect(credentials.metadata.namespace).toBe(broker.metadata.namespace);
    expect(secretKeys(credentials).sort()).toEqual(["password", "username"]);
    const service = one(base, "Service", "cfy-broker");
    const url = new URL(broker.spec.url);
    expect(url.hostname.split(".")[0]).toBe(service.metadata.name);
    expect(Number(url.port)).toBe(service.spec.ports[0].port);
  });
});
