import type { MediaKind } from '../execute-comfyui-workflow/ports.js';

/** A value a template input puts into the graph: what JSON can carry. */
export type InputValue = string | number | boolean | Record<string, unknown> | unknown[];

/** LittleHorse's variable types a TaskDef input can have (VariableType in common_enums.proto). */
export type VariableTypeName = 'STR' | 'INT' | 'DOUBLE' | 'BOOL' | 'JSON_OBJ' | 'JSON_ARR' | 'BYTES';

export interface InputTypeRule {
  /** The TaskDef input variable's type. */
  variableType: VariableTypeName;
  /** What a value of this type is, for error messages ("expects …"). */
  describe: string;
  /** Whether a JSON value (a default, or the graph's own value at a target) is of this type. */
  fits(value: unknown): value is InputValue;
  /** The LittleHorse value types a task may pass for it (LittleHorse casts INT to DOUBLE). */
  accepts: readonly VariableTypeName[];
  /** ComfyUI input types (GET /object_info) it can fill; undefined: any type that is not a plain widget. */
  comfyTypes?: readonly string[];
  /** Takes min / max. */
  bounded: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The template input types, each a LittleHorse variable type. A media input (`"media": "image"` on a
 * BYTES or STR input) is a file for a loader node: the shell uploads it to ComfyUI between checking
 * the inputs and filling the graph, so fillWorkflow only sees the name ComfyUI stored it under.
 */
export const INPUT_TYPES = {
  STR: { variableType: 'STR', describe: 'a string', fits: (v): v is string => typeof v === 'string', accepts: ['STR'], comfyTypes: ['STRING', 'COMBO'], bounded: false },
  INT: { variableType: 'INT', describe: 'a whole number', fits: (v): v is number => Number.isSafeInteger(v), accepts: ['INT'], comfyTypes: ['INT', 'FLOAT'], bounded: true },
  DOUBLE: {
    variableType: 'DOUBLE',
    describe: 'a number',
    fits: (v): v is number => typeof v === 'number' && Number.isFinite(v),
    accepts: ['DOUBLE', 'INT'],
    comfyTypes: ['FLOAT'],
    bounded: true,
  },
  BOOL: { variableType: 'BOOL', describe: 'true or false', fits: (v): v is boolean => typeof v === 'boolean', accepts: ['BOOL'], comfyTypes: ['BOOLEAN'], bounded: false },
  JSON_OBJ: { variableType: 'JSON_OBJ', describe: 'a JSON object', fits: isObject, accepts: ['JSON_OBJ'], bounded: false },
  JSON_ARR: { variableType: 'JSON_ARR', describe: 'a JSON array', fits: (v): v is unknown[] => Array.isArray(v), accepts: ['JSON_ARR'], bounded: false },
  // A file's bytes, for a media input only: in the graph (its value there, a default) it is a file name or URI.
  BYTES: {
    variableType: 'BYTES',
    describe: "a file's bytes (or, as a default, a file name or URI)",
    fits: (v): v is string => typeof v === 'string',
    accepts: ['BYTES'],
    comfyTypes: ['COMBO', 'STRING'],
    bounded: false,
  },
} as const satisfies Record<string, InputTypeRule>;

export type InputType = keyof typeof INPUT_TYPES;
export const INPUT_TYPE_NAMES = Object.keys(INPUT_TYPES) as [InputType, ...InputType[]];

/** What a media input's loader reads; the same words as the MediaKind of the raw workflow's loaders. */
export const MEDIA_KINDS = ['image', 'audio', 'video'] as const satisfies readonly MediaKind[];

/** ComfyUI's plain widget types: a JSON_OBJ / JSON_ARR input cannot fill one of these. */
export const COMFY_WIDGET_TYPES: readonly string[] = ['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO'];

/** What a JSON value is, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value === 'boolean' ? 'boolean' : typeof value}`;
}
