// POST /prompt graph validation, modelled on execution.py `validate_prompt` / `validate_inputs`.
import { inputConfig, NODE_DEFS, type NodeDef, typesMatch } from './nodes.js';
import { PyError, isObject, type ApiPrompt } from './types.js';

export interface ValidationError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export interface NodeError {
  errors: ValidationError[];
  dependent_outputs: string[];
  class_type: string;
}
export type Validation =
  | { ok: true; prompt: ApiPrompt; outputs: string[]; nodeErrors: Record<string, NodeError> }
  | { ok: false; error: ValidationError; nodeErrors: Record<string, NodeError> };

interface Checked {
  ok: boolean;
  errors: ValidationError[];
}

const fail = (type: string, message: string, details: string): Validation => ({
  ok: false,
  error: { type, message, details, extra_info: {} },
  nodeErrors: {}, // execution.py returns `{}` for these early failures: no per-node detail
});

const pyRepr = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? 'None');
const fakeTraceback = (fn: string): string[] => [
  `  File "/ComfyUI/execution.py", line 1021, in ${fn}\n    (fake ComfyUI double)\n`,
];

/**
 * Returns a 400-style verdict, or throws PyError where real ComfyUI raises outside any handler
 * (server.py then answers 500): a `prompt` or node that is not a JSON object.
 */
export function validatePrompt(raw: unknown): Validation {
  if (!isObject(raw)) throw new PyError('TypeError', 'prompt must be a dict');
  const prompt = raw as unknown as ApiPrompt;
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    if (!isObject(node)) throw new PyError('TypeError', `argument of type '${typeof node}' is not iterable`);
    if (!('class_type' in node)) {
      return fail('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`);
    }
    const def = NODE_DEFS[String(node.class_type)];
    if (typeof node.class_type !== 'string' || !def) {
      const message = `Cannot execute because node ${String(node.class_type)} does not exist.`;
      return fail('invalid_prompt', message, `Node ID '#${id}'`);
    }
    if (def.output) outputs.push(id);
  }
  if (outputs.length === 0) return fail('prompt_no_outputs', 'Prompt has no outputs', '');

  const validated = new Map<string, Checked>();

  const validateInputs = (id: string, visiting: string[]): Checked => {
    const done = validated.get(id);
    if (done) return done;
    if (visiting.includes(id)) {
      // recent versions report a cycle per node; older ones hit RecursionError
      const cycle = [...visiting.slice(visiting.indexOf(id)), id];
      const details = cycle.map((n) => `${n} (${prompt[n]?.class_type})`).join(' -> ');
      for (const n of new Set(cycle)) {
        const err = { type: 'dependency_cycle', message: 'Dependency cycle detected', details, extra_info: { node_id: n } };
        validated.set(n, { ok: false, errors: [err] });
      }
      return validated.get(id) ?? { ok: false, errors: [] };
    }
    const node = prompt[id];
    if (!node) throw new PyError('KeyError', pyRepr(id));
    if (!isObject(node.inputs)) throw new PyError('KeyError', "'inputs'");
    const def = NODE_DEFS[node.class_type];
    if (!def) throw new PyError('KeyError', pyRepr(node.class_type));
    const inputs = node.inputs;
    const errors: ValidationError[] = [];
    let valid = true;
    const declared: Array<[string, string, boolean]> = [
      ...Object.entries(def.required).map(([n, t]): [string, string, boolean] => [n, t, true]),
      ...Object.entries(def.optional ?? {}).map(([n, t]): [string, string, boolean] => [n, t, false]),
    ];
    for (const [name, type, required] of declared) {
      if (!(name in inputs)) {
        if (required) {
          errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: name, extra_info: { input_name: name } });
        }
        continue;
      }
      const val = inputs[name];
      const info = inputConfig(def, name);
      if (!Array.isArray(val)) {
        const problem = widgetProblem(def, name, type, val);
        if (problem) errors.push(problem);
        continue;
      }
      if (val.length !== 2) {
        errors.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: name,
          extra_info: { input_name: name, input_config: info, received_value: val },
        });
        continue;
      }
      // A link to an unknown node or slot raises here, outside validate_inputs' own try:
      // the caller reports it (exception_during_inner_validation / exception_during_validation).
      const [from, slot] = val as [unknown, unknown];
      const source = typeof from === 'string' ? prompt[from] : undefined;
      if (typeof from !== 'string' || !source) throw new PyError('KeyError', pyRepr(from));
      const returns = NODE_DEFS[source.class_type]?.returns ?? [];
      if (typeof slot !== 'number' || !Number.isInteger(slot)) {
        throw new PyError('TypeError', `tuple indices must be integers or slices, not ${typeof slot === 'string' ? 'str' : typeof slot}`);
      }
      const received = returns[slot < 0 ? returns.length + slot : slot];
      if (received === undefined) throw new PyError('IndexError', 'tuple index out of range');
      if (!typesMatch(received, type)) {
        errors.push({
          type: 'return_type_mismatch',
          message: 'Return type mismatch between linked nodes',
          details: `${name}, received_type(${received}) mismatch input_type(${type})`,
          extra_info: { input_name: name, input_config: info, received_type: received, linked_node: val },
        });
        continue;
      }
      try {
        if (!validateInputs(from, [...visiting, id]).ok) valid = false;
      } catch (ex) {
        if (!(ex instanceof PyError)) throw ex;
        valid = false;
        validated.set(from, {
          ok: false,
          errors: [
            {
              type: 'exception_during_inner_validation',
              message: 'Exception when validating inner node',
              details: ex.message,
              extra_info: {
                input_name: name,
                input_config: info,
                exception_message: ex.message,
                exception_type: ex.pyType,
                traceback: fakeTraceback('validate_inputs'),
                linked_node: val,
              },
            },
          ],
        });
      }
    }
    const prior = validated.get(id) ?? { ok: true, errors: [] };
    const merged = { ok: prior.ok && valid && errors.length === 0, errors: [...prior.errors, ...errors] };
    validated.set(id, merged);
    return merged;
  };

  const good: string[] = [];
  const failed: Array<[string, ValidationError[]]> = [];
  const nodeErrors: Record<string, NodeError> = {};
  for (const o of outputs) {
    let result: Checked;
    try {
      result = validateInputs(o, []);
    } catch (ex) {
      if (!(ex instanceof PyError)) throw ex;
      const reason = {
        type: 'exception_during_validation',
        message: 'Exception when validating node',
        details: ex.message,
        extra_info: { exception_type: ex.pyType, traceback: fakeTraceback('validate_prompt') },
      };
      result = { ok: false, errors: [reason] };
      validated.set(o, result);
    }
    if (result.ok) {
      good.push(o);
      continue;
    }
    failed.push([o, result.errors]);
    // As in execution.py: every failing node seen so far (not only this output's ancestors) gets `o`.
    for (const [nodeId, checked] of validated) {
      if (checked.ok || checked.errors.length === 0) continue;
      const entry = (nodeErrors[nodeId] ??= { errors: checked.errors, dependent_outputs: [], class_type: prompt[nodeId]?.class_type ?? '' });
      entry.dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    // `details` lists only the reasons attached to the output nodes themselves (often empty)
    const details = failed.flatMap(([, errs]) => errs.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return {
      ok: false,
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details, extra_info: {} },
      nodeErrors,
    };
  }
  return { ok: true, prompt, outputs: good, nodeErrors };
}

const MAX_LISTED_OPTIONS = 20;

/** Python's str() of a value, as ComfyUI's messages print it (a FLOAT always with a decimal point). */
function pyStr(value: unknown, float = false): string {
  if (typeof value === 'number') return float && Number.isInteger(value) ? `${value}.0` : String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null || value === undefined) return 'None';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
const pyList = (items: string[]): string => `[${items.map((i) => `'${i}'`).join(', ')}]`;
const pyTypeName = (value: unknown): string =>
  value === null ? 'NoneType' : Array.isArray(value) ? 'list' : typeof value === 'object' ? 'dict' : typeof value === 'string' ? 'str' : typeof value;

/** int() / float() / str() / bool() of a widget value, or the exception Python would raise. */
function convert(type: string, value: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  if (type === 'INT') {
    if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: Math.trunc(value) };
    if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
    if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return { ok: true, value: parseInt(value, 10) };
    if (typeof value === 'string') return { ok: false, error: `invalid literal for int() with base 10: '${value}'` };
    return { ok: false, error: `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'` };
  }
  if (type === 'FLOAT') {
    if (typeof value === 'number') return { ok: true, value };
    if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
    if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) return { ok: true, value: parseFloat(value) };
    if (typeof value === 'string') return { ok: false, error: `could not convert string to float: '${value}'` };
    return { ok: false, error: `float() argument must be a string or a real number, not '${pyTypeName(value)}'` };
  }
  return { ok: true, value };
}

/**
 * execution.py validate_inputs for a widget value: converted to its type (invalid_input_type), then
 * checked against min and max (value_smaller_than_min / value_bigger_than_max) and a COMBO's option
 * list (value_not_in_list: a model file the server does not have ends here).
 */
function widgetProblem(def: NodeDef, name: string, type: string, raw: unknown): ValidationError | undefined {
  const info = inputConfig(def, name);
  const converted = convert(type, raw);
  if (!converted.ok) {
    return {
      type: 'invalid_input_type',
      message: `Failed to convert an input value to a ${type} value`,
      details: `${name}, ${pyStr(raw)}, ${converted.error}`,
      extra_info: { input_name: name, input_config: info, received_value: raw, exception_message: converted.error },
    };
  }
  const value = converted.value;
  const limits = def.limits?.[name] ?? {};
  const float = type === 'FLOAT';
  const base = { input_name: name, input_config: info, received_value: value };
  if (limits.min !== undefined && typeof value === 'number' && value < limits.min) {
    return { type: 'value_smaller_than_min', message: `Value ${pyStr(value, float)} smaller than min of ${pyStr(limits.min, float)}`, details: name, extra_info: base };
  }
  if (limits.max !== undefined && typeof value === 'number' && value > limits.max) {
    return { type: 'value_bigger_than_max', message: `Value ${pyStr(value, float)} bigger than max of ${pyStr(limits.max, float)}`, details: name, extra_info: base };
  }
  if (limits.options && !limits.options.includes(value as string)) {
    const long = limits.options.length > MAX_LISTED_OPTIONS;
    const listed = long ? `(list of length ${limits.options.length})` : pyList(limits.options);
    return {
      type: 'value_not_in_list',
      message: 'Value not in list',
      details: `${name}: '${pyStr(value)}' not in ${listed}`,
      extra_info: { ...base, input_config: long ? null : info },
    };
  }
  return undefined;
}
