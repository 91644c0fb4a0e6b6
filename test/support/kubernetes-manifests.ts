/**
 * Rendering and validating Kubernetes manifests for the deploy/ tests.
 *
 * Schemas: kubernetes-models (and its prometheus-operator package) validate types, required
 * fields, enums and formats, but accept unknown fields, which the API server's strict field
 * validation refuses (a typo such as `terminationGracePeriodSecond` would pass). So every object
 * is also type-checked as an object literal of the package's TypeScript interface, where
 * excess-property checks reject unknown fields at any depth.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { packageRoot } from "../../src/util/package-root.js";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: tests index freely into manifests
  [key: string]: any;
}

export function kubectlUnavailable(): string | undefined {
  const probe = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (probe.error) return `kubectl is not installed (${probe.error.message})`;
  if (probe.status !== 0) return `kubectl does not run: ${probe.stderr.trim()}`;
  return undefined;
}

/** `kubectl kustomize DIR`, offline, as objects. */
export function kustomize(dir: string): K8sObject[] {
  const result = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/** Where kubernetes-models keeps an apiVersion's models (core group: `v1`). */
function modelModule(apiVersion: string, kind: string): string | undefined {
  if (apiVersion.startsWith("monitoring.coreos.com/"))
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (/^(v1|[a-z0-9.-]*\.k8s\.io\/v\d\w*|apps\/v1|policy\/v1|batch\/v1|autoscaling\/v2)$/.test(apiVersion))
    return `kubernetes-models/${apiVersion}/${kind}`;
  return undefined;
}

export function hasModel(object: K8sObject): boolean {
  return modelModule(object.apiVersion, object.kind) !== undefined;
}

/** Problems kubernetes-models' schema validation finds, one line per object. */
export async function schemaProblems(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const module = modelModule(object.apiVersion, object.kind);
    if (!module) {
      problems.push(`${object.kind} ${object.metadata.name}: no model for ${object.apiVersion}`);
      continue;
    }
    const exports = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = exports[object.kind];
    if (!Model) {
      problems.push(`${object.kind} ${object.metadata.name}: ${module} exports no ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/**
 * Type-checks each object as a literal of its model's interface (`I<Kind>`); returns the
 * diagnostics, naming the object and the offending property.
 */
export function unknownFieldProblems(objects: K8sObject[]): string[] {
  const root = packageRoot();
  // A file inside the project, so module resolution finds node_modules; it exists only in memory.
  const file = join(root, "test", "__kubernetes_manifests__.ts");
  const lines: string[] = [];
  const owners: string[] = [];
  objects.forEach((object, index) => {
    const module = modelModule(object.apiVersion, object.kind);
    if (!module) return;
    lines.push(`import type { I${object.kind} as T${index} } from "${module}";`);
    lines.push(`export const o${index}: T${index} = ${JSON.stringify(object)};`);
    owners.push(`${object.kind} ${object.metadata.name}`, `${object.kind} ${object.metadata.name}`);
  });
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.getCurrentDirectory = () => dirname(file);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line
        : -1;
    return `${owners[line] ?? "?"}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
  });
}
