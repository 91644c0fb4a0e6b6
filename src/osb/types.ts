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
export type ProvisionResponse = Schemas["ProvisionResponse"];
export type ProvisionAsyncResponse = Schemas["ProvisionAsyncResponse"];
export type AsyncOperationResponse = Schemas["AsyncOperationResponse"];
export type FetchInstanceResponse = Schemas["FetchInstanceResponse"];
export type InstanceLastOperation = Schemas["InstanceLastOperation"];
export type BindingLastOperation = Schemas["BindingLastOperation"];
export type BindingResponse = Schemas["BindingResponse"];
export type FetchBindingResponse = Schemas["FetchBindingResponse"];
export type ErrorResponse = Schemas["Error"];
