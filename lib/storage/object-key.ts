export const KEY_FIELDS = ['wfRunId', 'taskGuid', 'nodeId', 'type', 'subfolder', 'filename', 'file'] as const;
export type KeyFields = Record<(typeof KEY_FIELDS)[number], string>;

/**
 * An object key from the template: the same fields give the same key, so a retried attempt of a
 * TaskRun overwrites its own objects instead of adding new ones. Empty segments are dropped.
 */
export function objectKey(prefix: string, template: string, fields: KeyFields): string {
  const rendered = template.replace(/\{(\w+)\}/g, (_whole, name: keyof KeyFields) => fields[name]);
  return prefix + rendered.split('/').filter((segment) => segment !== '').join('/');
}
