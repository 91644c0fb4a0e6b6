/**
 * Prometheus metrics in the text exposition format, without a client library: the broker
 * needs counters and gauges only, and gauges of its state are computed at scrape time from
 * the store (no second bookkeeping that could drift).
 */
export type Labels = Record<string, string>;

interface Family {
  type: "counter" | "gauge";
  help: string;
  values: Map<string, { labels: Labels; value: number }>;
}

export interface Sample {
  labels: Labels;
  value: number;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly collectors: { name: string; help: string; collect: () => Sample[] }[] = [];

  counter(name: string, help: string): (labels?: Labels, by?: number) => void {
    const family: Family = { type: "counter", help, values: new Map() };
    this.families.set(name, family);
    return (labels = {}, by = 1) => {
      const key = labelKey(labels);
      const entry = family.values.get(key);
      if (entry) entry.value += by;
      else family.values.set(key, { labels, value: by });
    };
  }

  /** A gauge whose samples are computed when scraped. */
  gauge(name: string, help: string, collect: () => Sample[]): void {
    this.collectors.push({ name, help, collect });
  }

  render(): string {
    const out: string[] = [];
    for (const [name, family] of this.families) {
      out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const { labels, value } of family.values.values())
        out.push(`${name}${formatLabels(labels)} ${value}`);
    }
    for (const { name, help, collect } of this.collectors) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const { labels, value } of collect()) out.push(`${name}${formatLabels(labels)} ${value}`);
    }
    return `${out.join("\n")}\n`;
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (!entries.length) return "";
  const escapeValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(",")}}`;
}
