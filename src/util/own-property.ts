/**
 * `target[key] = value` as an own property whatever the key: a parsed document may have a key
 * named `__proto__`, which plain assignment would take as the object's prototype.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
