/**
 * Name and identifier rules (k8s.io/apimachinery/pkg/util/validation). Each function
 * returns the list of problems, empty when the value is valid, worded as Kubernetes
 * words them so that messages match what users find in the docs.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
 */

export const dns1123LabelMaxLength = 63;
export const dns1123SubdomainMaxLength = 253;
export const qualifiedNameMaxLength = 63;
export const labelValueMaxLength = 63;
export const ianaServiceNameMaxLength = 15;
export const configMapKeyMaxLength = 253;

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?';
const qualifiedNameFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const labelValueFmt = `(${qualifiedNameFmt})?`;
const envVarNameFmt = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const configMapKeyFmt = '[-._a-zA-Z0-9]+';
const percentFmt = '[0-9]+%';

const anchored = (fmt: string): RegExp => new RegExp(`^${fmt}$`);
const dns1123LabelRe = anchored(dns1123LabelFmt);
const dns1123SubdomainRe = anchored(dns1123SubdomainFmt);
const dns1035LabelRe = anchored(dns1035LabelFmt);
const qualifiedNameRe = anchored(qualifiedNameFmt);
const labelValueRe = anchored(labelValueFmt);
const envVarNameRe = anchored(envVarNameFmt);
const configMapKeyRe = anchored(configMapKeyFmt);
const percentRe = anchored(percentFmt);

function regexError(msg: string, fmt: string, examples: readonly string[]): string {
  const ex = examples.length === 0 ? '' : `(e.g. ${examples.map((e) => `'${e}'`).join(',  or ')}, `;
  return `${msg} ${ex === '' ? '(' : ex}regex used for validation is '${fmt}')`;
}

const maxLenError = (n: number): string => `must be no more than ${n} characters`;

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > dns1123LabelMaxLength) errs.push(maxLenError(dns1123LabelMaxLength));
  if (!dns1123LabelRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        dns1123LabelFmt,
        ['my-name', '123-abc'],
      ),
    );
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > dns1123SubdomainMaxLength) errs.push(maxLenError(dns1123SubdomainMaxLength));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        dns1123SubdomainFmt,
        ['example.com'],
      ),
    );
  }
  return errs;
}

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > dns1123LabelMaxLength) errs.push(maxLenError(dns1123LabelMaxLength));
  if (!dns1035LabelRe.test(value)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        dns1035LabelFmt,
        ['my-name', 'abc-123'],
      ),
    );
  }
  return errs;
}

/** A label key or annotation key: an optional DNS subdomain prefix and `/`, then a name. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0] as string;
  } else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const msg of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${msg}`);
  } else {
    return [
      `${regexError(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        qualifiedNameFmt,
        ['MyName', 'my.name', '123-abc'],
      )} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) {
    errs.push('name part must be non-empty');
  } else if (name.length > qualifiedNameMaxLength) {
    errs.push(`name part ${maxLenError(qualifiedNameMaxLength)}`);
  }
  if (name.length > 0 && !qualifiedNameRe.test(name)) {
    errs.push(
      `name part ${regexError(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        qualifiedNameFmt,
        ['MyName', 'my.name', '123-abc'],
      )}`,
    );
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > labelValueMaxLength) errs.push(maxLenError(labelValueMaxLength));
  if (!labelValueRe.test(value)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        labelValueFmt,
        ['MyValue', 'my_value', '12345'],
      ),
    );
  }
  return errs;
}

export function isEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (!envVarNameRe.test(value)) {
    errs.push(
      regexError(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        envVarNameFmt,
        ['my.env-name', 'MY_ENV.NAME', 'MyEnv1'],
      ),
    );
  }
  errs.push(...relativePathProblems(value));
  return errs;
}

function relativePathProblems(value: string): string[] {
  if (value === '.') return ["must not be '.'"];
  if (value === '..') return ["must not be '..'"];
  if (value.startsWith('..')) return ["must not start with '..'"];
  return [];
}

/** A key of a ConfigMap or Secret: it becomes a file name in volumes. */
export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (value.length > configMapKeyMaxLength) errs.push(maxLenError(configMapKeyMaxLength));
  if (!configMapKeyRe.test(value)) {
    errs.push(
      regexError(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        configMapKeyFmt,
        ['key.name', 'KEY_NAME', 'key-name'],
      ),
    );
  }
  errs.push(...relativePathProblems(value));
  return errs;
}

/** A port name (IANA service name, RFC 6335): 1-15 of a-z, 0-9 and '-', with a letter. */
export function isValidPortName(value: string): string[] {
  const errs: string[] = [];
  if (value.length > ianaServiceNameMaxLength) errs.push(maxLenError(ianaServiceNameMaxLength));
  if (!/^[-a-z0-9]+$/.test(value))
    errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(value)) errs.push('must contain at least one letter (a-z)');
  if (value.includes('--')) errs.push('must not contain consecutive hyphens');
  if (value.startsWith('-') || value.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

export function isValidPortNum(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? []
    : ['must be between 1 and 65535, inclusive'];
}

export function isValidPercent(value: string): string[] {
  return percentRe.test(value)
    ? []
    : [
        regexError("a valid percent string must be a numeric string followed by an ending '%'", percentFmt, [
          '1%',
          '93%',
        ]),
      ];
}

/** A path segment: object names that become URL segments (`.`, `..`, `/`, `%` are refused). */
export function isValidPathSegmentName(value: string): string[] {
  if (value === '.' || value === '..') return [`may not be '${value}'`];
  const errs: string[] = [];
  for (const c of ['/', '%']) if (value.includes(c)) errs.push(`may not contain '${c}'`);
  return errs;
}

/**
 * Validates a name (or, with `prefix`, a generateName base: a trailing '-' is allowed
 * since random characters follow it).
 */
export type NameValidator = (name: string, prefix: boolean) => string[];

const maskTrailingDash = (name: string): string =>
  name.length > 1 && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;

export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
export const nameIsDNSLabel: NameValidator = (name, prefix) =>
  isDNS1123Label(prefix ? maskTrailingDash(name) : name);
export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);
