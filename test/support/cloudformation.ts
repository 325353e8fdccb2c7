// A tiny CloudFormation evaluator for the template tests: the YAML parsed with CloudFormation's
// intrinsic-function tags, then resolved for a set of parameter values the way CloudFormation would.
import { parse, type Tags } from 'yaml';

const NO_VALUE = Symbol('AWS::NoValue');
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function cloudFormationTags(): Tags {
  const tags: Tags = [{ tag: '!Ref', resolve: (value: string) => ({ Ref: value }) }];
  const functions = ['Sub', 'GetAtt', 'If', 'Join', 'Equals', 'Not', 'And', 'Or', 'Select', 'Split', 'FindInMap', 'Base64', 'Condition', 'ImportValue', 'GetAZs', 'Cidr'];
  for (const fn of functions) {
    const key = fn === 'Condition' ? 'Condition' : `Fn::${fn}`;
    tags.push({ tag: `!${fn}`, resolve: (value: string) => ({ [key]: value }) });
    tags.push({ tag: `!${fn}`, collection: 'seq', resolve: (seq) => ({ [key]: seq.toJSON() as Json }) });
    tags.push({ tag: `!${fn}`, collection: 'map', resolve: (map) => ({ [key]: map.toJSON() as Json }) });
  }
  return tags;
}

export interface Template {
  Parameters: Record<string, { Type: string; Default?: string | number; AllowedValues?: (string | number)[]; AllowedPattern?: string; MinValue?: number; MaxValue?: number }>;
  Rules: Record<string, { RuleCondition?: Json; Assertions: { Assert: Json; AssertDescription: string }[] }>;
  Mappings?: Record<string, Record<string, Record<string, Json>>>;
  Conditions: Record<string, Json>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, Json> }>;
}

export type ParameterValues = Record<string, string | string[]>;

/** A tiny CloudFormation evaluator: Ref, Sub, GetAtt, Join, Split, Select, FindInMap, Base64, If and the condition functions. */
export class Stack {
  private readonly params: Record<string, string | string[]>;
  private readonly conditions = new Map<string, boolean>();

  constructor(
    private readonly template: Template,
    values: ParameterValues,
  ) {
    this.params = {
      'AWS::Region': 'eu-west-1',
      'AWS::AccountId': '123456789012',
      'AWS::StackName': 'comfyui-worker',
      'AWS::Partition': 'aws',
    };
    for (const [name, declared] of Object.entries(this.template.Parameters)) {
      const value = values[name] ?? (declared.Default === undefined ? undefined : String(declared.Default));
      if (value === undefined) throw new Error(`parameter ${name} has no default: the scenario must give it`);
      // A list parameter's default is its comma-separated text; Ref gives the list.
      const isList = declared.Type === 'CommaDelimitedList' || declared.Type.startsWith('List<');
      this.params[name] = isList && typeof value === 'string' ? value.split(',') : value;
    }
    for (const name of Object.keys(values)) {
      if (!(name in this.template.Parameters)) throw new Error(`the scenario sets ${name}, which the template does not declare`);
    }
  }

  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const definition = this.template.Conditions[name];
    if (definition === undefined) throw new Error(`unknown condition ${name}`);
    const value = this.resolve(definition) === true;
    this.conditions.set(name, value);
    return value;
  }

  /** What CloudFormation would refuse before creating anything: parameter constraints and Rules. */
  refusals(): string[] {
    const refused: string[] = [];
    for (const [name, declared] of Object.entries(this.template.Parameters)) {
      const value = this.params[name];
      // A list's constraints apply to each of its items.
      for (const item of typeof value === 'string' ? [value] : value ?? []) {
        if (declared.AllowedValues && !declared.AllowedValues.map(String).includes(item)) refused.push(`${name}=${item} is not an allowed value`);
        if (declared.AllowedPattern && !new RegExp(declared.AllowedPattern).test(item)) refused.push(`${name}=${item} does not match its AllowedPattern`);
      }
      if (typeof value === 'string' && declared.Type === 'Number') {
        const number = Number(value);
        if (!Number.isFinite(number) || number < (declared.MinValue ?? -Infinity) || number > (declared.MaxValue ?? Infinity)) refused.push(`${name}=${value} is out of its range`);
      }
    }
    for (const [name, rule] of Object.entries(this.template.Rules ?? {})) {
      if (rule.RuleCondition !== undefined && this.resolve(rule.RuleCondition) !== true) continue;
      for (const assertion of rule.Assertions) {
        if (this.resolve(assertion.Assert) !== true) refused.push(`rule ${name}: ${assertion.AssertDescription}`);
      }
    }
    return refused;
  }

  exists(resource: string): boolean {
    const declared = this.template.Resources[resource];
    return declared !== undefined && (declared.Condition === undefined || this.condition(declared.Condition));
  }

  properties(resource: string): Record<string, unknown> {
    const declared = this.template.Resources[resource];
    if (!declared || !this.exists(resource)) throw new Error(`${resource} is not created in this scenario`);
    return this.resolve(declared.Properties) as Record<string, unknown>;
  }

  /** What Ref returns for a resource: a recognisable stand-in for its name or ARN. */
  static refOf(resource: string): string {
    return `ref:${resource}`;
  }

  resolve(node: Json): unknown {
    if (Array.isArray(node)) return node.map((item) => this.resolve(item)).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    const [only] = keys;
    if (keys.length === 1 && only !== undefined) {
      const arg = node[only] as Json;
      switch (only) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Condition':
          return this.condition(String(arg));
        case 'Fn::GetAtt': {
          const [resource, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
          return `getatt:${resource}.${attribute}`;
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? [String(arg[0]), (arg[1] ?? {}) as Record<string, Json>] : [String(arg), {}];
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in vars) return String(this.resolve(vars[name] as Json));
            if (name.includes('.')) return String(this.resolve({ 'Fn::GetAtt': name }));
            return String(this.ref(name));
          });
        }
        case 'Fn::Join': {
          const [separator, list] = arg as [string, Json];
          return (this.resolve(list) as unknown[]).map(String).join(separator);
        }
        case 'Fn::If': {
          const [name, whenTrue, whenFalse] = arg as [string, Json, Json];
          return this.resolve(this.condition(name) ? whenTrue : whenFalse);
        }
        case 'Fn::Equals': {
          const [a, b] = (arg as Json[]).map((item) => this.resolve(item));
          return String(a) === String(b);
        }
        case 'Fn::Not':
          return !(this.resolve((arg as Json[])[0] as Json) as boolean);
        case 'Fn::And':
          return (arg as Json[]).every((item) => this.resolve(item) === true);
        case 'Fn::Or':
          return (arg as Json[]).some((item) => this.resolve(item) === true);
        case 'Fn::Select': {
          const [index, list] = arg as [Json, Json];
          const items = this.resolve(list) as unknown[];
          const picked = items[Number(this.resolve(index))];
          if (picked === undefined) throw new Error(`Fn::Select: no item ${String(index)} in ${JSON.stringify(items)}`);
          return picked;
        }
        case 'Fn::FindInMap': {
          const [map, top, second] = (arg as Json[]).map((item) => String(this.resolve(item)));
          const value = this.template.Mappings?.[map!]?.[top!]?.[second!];
          if (value === undefined) throw new Error(`Fn::FindInMap: ${map}.${top}.${second} is not in the template's Mappings`);
          return this.resolve(value);
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, Json];
          return String(this.resolve(text)).split(separator);
        }
        case 'Fn::Base64':
          return `base64:${String(this.resolve(arg))}`;
      }
      if (only.startsWith('Fn::')) throw new Error(`the test evaluator does not know ${only}; teach it or avoid it`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const resolved = this.resolve(value);
      if (resolved !== NO_VALUE) out[key] = resolved;
    }
    return out;
  }

  private ref(name: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in this.params) return this.params[name];
    if (name in this.template.Resources) return Stack.refOf(name);
    throw new Error(`Ref to unknown name ${name}`);
  }
}

/** The template at `text`, with its intrinsic functions as CloudFormation's JSON form. */
export function parseTemplate(text: string): Template {
  return parse(text, { customTags: cloudFormationTags() }) as Template;
}
