/** Ids of the example broker.yaml, which the HTTP and the domain tests run against. */
export const PG = {
  service: "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11",
  small: "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01",
  large: "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b02",
};
export const REDIS = {
  service: "9a7c4e21-3d5b-4f8e-b6a2-7e1c0d9f8a22",
  small: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33",
  large: "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34",
};
