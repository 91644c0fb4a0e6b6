import type { components } from "../../generated/osb.js";

/**
 * Names for the generated OSB models (from schema/osb-openapi.yaml). Aliases only: the
 * shapes are declared once, in the OpenAPI document, and generated into generated/osb.ts.
 */
type Schemas = components["schemas"];

export type Catalog = Schemas["Catalog"];
export type ServiceOffering = Schemas["ServiceOffering"];
export type ServicePlan = Schemas["ServicePlan"];
export type MaintenanceInfo = Schemas["MaintenanceInfo"];
export type JsonSchemaDocument = Schemas["JsonSchemaDocument"];
