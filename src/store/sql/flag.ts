/** A boolean column's stored value, 0 or 1 on both backends (docs/architecture.md, "Storage conventions"). */
export function toFlag(value: boolean): number {
  return value ? 1 : 0;
}

/** Whether a boolean column's stored value is set. */
export function isSet(flag: number): boolean {
  return flag === 1;
}
