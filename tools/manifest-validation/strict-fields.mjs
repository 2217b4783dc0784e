// Unknown-field detection for the built-in and prometheus-operator kinds.
//
// The compiled validators of kubernetes-models check required fields, types and enums, but like the
// Kubernetes OpenAPI document they come from they accept any extra key, so a misspelled field
// (`readOnlyRootFileSystem`, `volumeMount`) would pass. The API server rejects such a field under
// strict field validation (kubectl's default since 1.27). The same package ships the TypeScript
// declarations generated from the same OpenAPI document; they list every field of every type, so this
// module reads them and reports each key of a manifest that its type does not declare.
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const nodeModules = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules");
const LEAF = { kind: "leaf" };

const files = new Map();

function resolveModule(fromFile, spec) {
  const base = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : path.join(nodeModules, spec);
  for (const candidate of [`${base}.d.ts`, path.join(base, "index.d.ts")]) {
    if (existsSync(candidate)) {
      return candidate;
    }
  }
  throw new Error(`cannot resolve type declarations for "${spec}" from ${fromFile}`);
}

function loadFile(file) {
  let parsed = files.get(file);
  if (parsed) {
    return parsed;
  }
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const part of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      const [imported, local] = part.split(/\s+as\s+/);
      imports.set((local ?? imported).trim(), { module: m[2], name: imported.trim() });
    }
  }
  const aliases = new Map();
  for (const m of text.matchAll(/export\s*\{([^}]*)\}\s*;/g)) {
    for (const part of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      const [local, exported] = part.split(/\s+as\s+/);
      if (exported) {
        aliases.set(exported.trim(), local.trim());
      }
    }
  }
  const declarations = new Map();
  for (const m of text.matchAll(/export\s+(?:declare\s+)?interface\s+(\w+)[^{]*\{/g)) {
    declarations.set(m[1], { body: braceBody(text, m.index + m[0].length - 1) });
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?type\s+(\w+)\s*=\s*([^;]+);/g)) {
    declarations.set(m[1], { alias: m[2] });
  }
  parsed = { file, imports, aliases, declarations, resolved: new Map() };
  files.set(file, parsed);
  return parsed;
}

function braceBody(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") {
      depth++;
    } else if (text[i] === "}" && --depth === 0) {
      return text.slice(open, i + 1);
    }
  }
  throw new Error("unbalanced braces in type declarations");
}

function tokenize(text) {
  const tokens = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?|[{}[\]<>():;?|,&.=])/gy;
  let m;
  while ((m = re.exec(text)) !== null) {
    tokens.push(m[1]);
    if (re.lastIndex >= text.length) {
      break;
    }
  }
  return tokens;
}

// A small parser for the subset of TypeScript type syntax the generated declarations use.
function parseType(text, file) {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const expect = (t) => {
    const got = next();
    if (got !== t) {
      throw new Error(`expected "${t}" but found "${got}" in a type of ${file}`);
    }
  };

  function union() {
    const alternatives = [postfix()];
    while (peek() === "|" || peek() === "&") {
      next();
      alternatives.push(postfix());
    }
    const structured = alternatives.filter((a) => a.kind !== "leaf");
    return alternatives.length === 1 ? alternatives[0] : structured.length === 1 ? structured[0] : LEAF;
  }

  function postfix() {
    let type = primary();
    while (peek() === "[") {
      next();
      if (peek() === "]") {
        next();
        type = { kind: "array", item: type };
      } else {
        next();
        expect("]");
        type = LEAF;
      }
    }
    return type;
  }

  function primary() {
    const t = next();
    if (t === "(") {
      const inner = union();
      expect(")");
      return inner;
    }
    if (t === "{") {
      return members();
    }
    if (t === "Array") {
      expect("<");
      const item = union();
      expect(">");
      return { kind: "array", item };
    }
    if (/^[A-Za-z_$]/.test(t)) {
      let name = t;
      while (peek() === ".") {
        next();
        name += `.${next()}`;
      }
      if (peek() === "<") {
        let depth = 0;
        do {
          const u = next();
          depth += u === "<" ? 1 : u === ">" ? -1 : 0;
        } while (depth > 0);
      }
      return { kind: "ref", name, file };
    }
    return LEAF;
  }

  function members() {
    const fields = new Map();
    let mapValue;
    while (peek() !== "}") {
      if (peek() === "[") {
        next();
        next();
        expect(":");
        union();
        expect("]");
        expect(":");
        mapValue = union();
      } else {
        const raw = next();
        const name = raw.startsWith('"') ? JSON.parse(raw) : raw;
        const optional = peek() === "?";
        if (optional) {
          next();
        }
        expect(":");
        fields.set(name, { optional, type: union() });
      }
      if (peek() === ";" || peek() === ",") {
        next();
      }
    }
    expect("}");
    return { kind: "object", fields, mapValue };
  }

  return union();
}

function resolveRef(ref) {
  const parsed = loadFile(ref.file);
  const cached = parsed.resolved.get(ref.name);
  if (cached) {
    return cached;
  }
  let result = LEAF;
  const local = parsed.aliases.get(ref.name) ?? ref.name;
  const declaration = parsed.declarations.get(local);
  if (declaration) {
    // Guards against an alias that names itself while it is being parsed.
    parsed.resolved.set(ref.name, LEAF);
    result = parseType(declaration.body ?? declaration.alias, ref.file);
    if (result.kind === "ref") {
      result = resolveRef(result);
    }
    // An empty interface comes from a schema without properties: free-form (JSON, RawExtension...).
    if (result.kind === "object" && result.fields.size === 0 && !result.mapValue) {
      result = LEAF;
    }
  } else if (parsed.imports.has(local)) {
    const imported = parsed.imports.get(local);
    result = resolveRef({ kind: "ref", name: imported.name, file: resolveModule(ref.file, imported.module) });
  }
  parsed.resolved.set(ref.name, result);
  return result;
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function walk(value, type, where, errors) {
  const resolved = type.kind === "ref" ? resolveRef(type) : type;
  if (resolved.kind === "array" && Array.isArray(value)) {
    value.forEach((item, i) => walk(item, resolved.item, `${where}/${i}`, errors));
  } else if (resolved.kind === "object" && isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const field = resolved.fields.get(key);
      if (field) {
        walk(child, field.type, `${where}/${key}`, errors);
      } else if (resolved.mapValue) {
        walk(child, resolved.mapValue, `${where}/${key}`, errors);
      } else {
        errors.push(`${where}/${key} is not a field of this type (unknown field "${key}")`);
      }
    }
  }
}

/**
 * Reports every key of `document` that the declaration file of its model does not declare.
 * @param {object} document a parsed manifest
 * @param {string} declarationFile absolute path of the model's .d.ts, e.g. .../apps/v1/Deployment.d.ts
 * @param {string} interfaceName the model's interface, e.g. IDeployment
 * @param {string} [where] the path prefix used in messages
 * @returns {string[]} the unknown fields, as messages
 */
export function unknownFields(document, declarationFile, interfaceName, where = "data") {
  const errors = [];
  walk(document, { kind: "ref", name: interfaceName, file: declarationFile }, where, errors);
  return errors;
}

/**
 * The declaration file of a module of the installed packages.
 * @param {string} spec e.g. "kubernetes-models/apps/v1/Deployment"
 * @returns {string} its absolute path
 */
export function declarationsOf(spec) {
  return resolveModule(nodeModules, spec);
}
