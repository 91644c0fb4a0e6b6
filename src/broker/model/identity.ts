/** Who caused a request, as the platform says (OSB H4): for audit and templates, never for authorisation. */
export interface OriginatingIdentity {
  platform: string;
  value: Record<string, unknown>;
}
