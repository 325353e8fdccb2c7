import { z } from 'zod';

/** Builders of environment-variable schemas, each stating the rule it enforces. */

/** States a variable's rule (`rule` in the schema's metadata) in the words of the README's table. */
export const stated = <T extends z.ZodType>(schema: T, rule: string, secret = false) => schema.meta({ rule, secret });

const wholeNumber = (min: number, unit: string) => {
  const rule = `whole ${unit} ≥ ${min}`;
  return {
    rule,
    schema: z
      .string()
      .trim()
      .regex(/^\d+$/, `expects ${rule}`)
      .transform(Number)
      .refine((n) => n >= min, `expects ${rule}`),
  };
};

/** Whole seconds, at least `min`. */
export const seconds = (fallback: number, min = 0) => {
  const { rule, schema } = wholeNumber(min, 'seconds');
  return stated(schema.default(fallback), rule);
};

export const optionalSeconds = (min = 0) => {
  const { rule, schema } = wholeNumber(min, 'seconds');
  return stated(schema.optional(), rule);
};

/** A whole number, at least `min`, of `unit` (e.g. "number", "bytes", "ms"). */
export const count = (fallback: number, min = 0, unit = 'number') => {
  const { rule, schema } = wholeNumber(min, unit);
  return stated(schema.default(fallback), rule);
};

const FLAG_WORDS = { truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] };
export const flag = (fallback: boolean) =>
  stated(
    z.stringbool({ ...FLAG_WORDS, case: 'insensitive', error: 'expects true or false' }).default(fallback),
    '`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)',
  );

/** One of a few words, spelled exactly; a wrong case is pointed out. */
const choiceOf = <const T extends readonly [string, ...string[]]>(values: T) => {
  const words = values.map((v) => `\`${v}\``);
  const rule = `${words.slice(0, -1).join(', ')} or ${words.at(-1)} (case-sensitive)`;
  const schema = z.enum(values, {
    error: (issue) => {
      const near = values.find((v) => v.toLowerCase() === String(issue.input).toLowerCase());
      return `expects ${values.join(', ').replace(/, ([^,]*)$/, ' or $1')} (case-sensitive)${near ? `: did you mean ${near}?` : ''}`;
    },
  });
  return { rule, schema };
};
export const choice = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) => {
  const { rule, schema } = choiceOf(values);
  return stated(schema.default(fallback), rule);
};
export const optionalChoice = <const T extends readonly [string, ...string[]]>(values: T) => {
  const { rule, schema } = choiceOf(values);
  return stated(schema.optional(), rule);
};

export const httpUrl = (example: string) =>
  z.string().trim().pipe(
    z.url({
      protocol: /^https?$/,
      error: (issue) =>
        typeof issue.input === 'string' && !issue.input.includes('://')
          ? `expects an http(s) URL with its scheme, e.g. http://${issue.input}`
          : `expects an http(s) URL, e.g. ${example}`,
    }),
  );

export const required = (what: string) => z.string({ error: `is required: ${what}` }).trim().min(1, `is required: ${what}`);
export const optionalText = z.string().trim().min(1).optional().catch(undefined);
export const filePath = (rule: string) => stated(optionalText, rule);

