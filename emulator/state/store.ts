import type { BlueprintDef } from "../model/blueprints.js";
import type { EventRecord, TenantData, TokenRecord, UserRecord } from "./records.js";

/** All manager data. Blueprints and users are configuration; the rest can be wiped by a restart. */
export class Store {
  readonly blueprints: Map<string, BlueprintDef>;
  readonly users: Map<string, UserRecord>;
  readonly tenantNames: readonly string[];
  tokens = new Map<string, TokenRecord>();
  private tenants = new Map<string, TenantData>();
  private nextStorageId = 1;

  constructor(blueprints: readonly BlueprintDef[], users: readonly UserRecord[], tenants: readonly string[]) {
    this.blueprints = new Map(blueprints.map((b) => [b.id, b]));
    this.users = new Map(users.map((u) => [u.username, u]));
    this.tenantNames = [...tenants];
  }

  hasTenant(name: string): boolean {
    return this.tenantNames.includes(name);
  }

  tenant(name: string): TenantData {
    let data = this.tenants.get(name);
    if (!data) {
      data = {
        deployments: new Map(),
        executions: new Map(),
        secrets: new Map(),
        updates: new Map(),
        events: [],
      };
      this.tenants.set(name, data);
    }
    return data;
  }

  addEvent(event: Omit<EventRecord, "storageId">): void {
    this.tenant(event.tenant).events.push({ ...event, storageId: this.nextStorageId++ });
  }

  /** Forgets everything a manager keeps in its database (a restart that loses data). */
  wipe(): void {
    this.tenants.clear();
    this.tokens.clear();
  }
}
