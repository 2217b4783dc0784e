#!/usr/bin/env node
// Validates Kubernetes manifests offline against the Kubernetes schemas.
//
//   node validate.mjs [--crds DIR]... FILE...   validate; "ok FILE (N documents)" per good file,
//                                               one line per problem on stderr, exit 1 on any problem
//   node validate.mjs --dump FILE               print the file's documents as a JSON array (no validation)
//   node validate.mjs --needs runtime-needs.yaml FILE...
//                                               also check the files together against what their programs
//                                               need at run time (runtime-needs.mjs): "runtime: ..." lines
//
// Built-in kinds: the kubernetes-models validators (required fields, types, enums, formats) plus an
// unknown-field check from the same package's type declarations (strict-fields.mjs).
// PodMonitor and other prometheus-operator kinds: @kubernetes-models/prometheus-operator, same two checks.
// Kinds defined by a CustomResourceDefinition (ClusterSPIFFEID...): the CRD's openAPIV3Schema, compiled
// with Ajv, unknown fields rejected as the API server prunes or rejects them; CRDs are read from every
// --crds directory and from the files being validated.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import Ajv from "ajv";
import { unknownFields, declarationsOf } from "./strict-fields.mjs";
import { loadNeeds, checkRuntimeNeeds } from "./runtime-needs.mjs";

const require = createRequire(import.meta.url);
const objectMeta = declarationsOf("@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta");

// apiVersion prefix -> npm module holding the models of that API group.
const modelPackages = [
  { group: "monitoring.coreos.com/", module: "@kubernetes-models/prometheus-operator" },
  { group: "", module: "kubernetes-models" },
];

function readDocuments(file) {
  const problems = [];
  const documents = [];
  parseAllDocuments(readFileSync(file, "utf8")).forEach((doc, index) => {
    for (const error of doc.errors) {
      problems.push(`document ${index + 1}: YAML: ${error.message.split("\n")[0]}`);
    }
    for (const warning of doc.warnings) {
      problems.push(`document ${index + 1}: YAML: ${warning.message.split("\n")[0]}`);
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) {
      documents.push({ index: index + 1, value });
    }
  });
  return { documents, problems };
}

// A structural schema rejects what it does not declare (x-kubernetes-preserve-unknown-fields aside).
function closeSchema(schema) {
  if (Array.isArray(schema)) {
    return schema.map(closeSchema);
  }
  if (schema === null || typeof schema !== "object") {
    return schema;
  }
  const closed = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!key.startsWith("x-kubernetes-")) {
      closed[key] = key === "properties" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, closeSchema(v)])) : closeSchema(value);
    }
  }
  if (closed.properties && closed.additionalProperties === undefined && !schema["x-kubernetes-preserve-unknown-fields"]) {
    closed.additionalProperties = false;
  }
  return closed;
}

class CustomKinds {
  constructor() {
    this.ajv = new Ajv({ allErrors: true, strict: false });
    this.validators = new Map();
  }

  add(crd) {
    for (const version of crd.spec?.versions ?? []) {
      const schema = version.schema?.openAPIV3Schema;
      if (schema) {
        // metadata is "type: object" without properties there; it is checked against ObjectMeta below.
        const closed = closeSchema(schema);
        closed.required = [...new Set([...(closed.required ?? []), "apiVersion", "kind"])];
        const key = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
        this.validators.set(key, this.ajv.compile(closed));
      }
    }
  }

  addDirectory(dir) {
    for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      for (const { value } of readDocuments(path.join(dir, name)).documents) {
        if (value.kind === "CustomResourceDefinition") {
          this.add(value);
        }
      }
    }
  }

  get(apiVersion, kind) {
    return this.validators.get(`${apiVersion}/${kind}`);
  }
}

function modelFor(apiVersion, kind) {
  const { module } = modelPackages.find((p) => apiVersion.startsWith(p.group));
  let models;
  try {
    models = require(`${module}/${apiVersion}`);
  } catch {
    return undefined;
  }
  const Model = models[kind];
  if (typeof Model !== "function") {
    return undefined;
  }
  return { Model, declarations: declarationsOf(`${module}/${apiVersion}/${kind}`) };
}

function ajvMessages(errors) {
  return (errors ?? []).map((e) => {
    const where = `data${e.instancePath}`;
    if (e.keyword === "additionalProperties") {
      return `${where}/${e.params.additionalProperty} is not a field of this type (unknown field "${e.params.additionalProperty}")`;
    }
    return `${where} ${e.message}${e.keyword === "enum" ? `: ${e.params.allowedValues.join(", ")}` : ""}`;
  });
}

function validateDocument(document, customKinds) {
  const { apiVersion, kind } = document;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return ["data must have a string apiVersion and kind"];
  }
  const metadata = document.metadata ?? {};
  const problems = [];
  if (!metadata.name && !metadata.generateName) {
    problems.push("data/metadata must have required property name");
  }
  const custom = customKinds.get(apiVersion, kind);
  if (custom) {
    if (!custom(document)) {
      problems.push(...ajvMessages(custom.errors));
    }
    problems.push(...unknownFields(document.metadata ?? {}, objectMeta, "IObjectMeta", "data/metadata"));
    return problems;
  }
  const model = modelFor(apiVersion, kind);
  if (!model) {
    return [...problems, `no schema known for apiVersion "${apiVersion}" kind "${kind}" (a typo, or a CRD not given with --crds)`];
  }
  try {
    new model.Model(document).validate();
  } catch (error) {
    problems.push(...(error.errors ? ajvMessages(error.errors) : [error.message]));
  }
  problems.push(...unknownFields(document, model.declarations, `I${kind}`));
  return problems;
}

function main(argv) {
  const customKinds = new CustomKinds();
  const files = [];
  let dump = false;
  let needs;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--needs") {
      needs = loadNeeds(argv[++i]);
    } else if (argv[i] === "--crds") {
      customKinds.addDirectory(argv[++i]);
    } else if (argv[i] === "--dump") {
      dump = true;
    } else {
      files.push(argv[i]);
    }
  }
  if (files.length === 0) {
    process.stderr.write("usage: validate.mjs [--crds DIR]... [--needs runtime-needs.yaml] FILE... | --dump FILE\n");
    return 2;
  }
  if (dump) {
    process.stdout.write(`${JSON.stringify(files.flatMap((f) => readDocuments(f).documents.map((d) => d.value)))}\n`);
    return 0;
  }
  const parsed = files.map((file) => ({ file, ...readDocuments(file) }));
  for (const { documents } of parsed) {
    documents.filter((d) => d.value.kind === "CustomResourceDefinition").forEach((d) => customKinds.add(d.value));
  }
  let failed = false;
  for (const { file, documents, problems } of parsed) {
    const all = [...problems];
    if (documents.length === 0) {
      all.push("no Kubernetes object in this file");
    }
    for (const { index, value } of documents) {
      const label = `document ${index} (${value?.kind ?? "?"}/${value?.metadata?.name ?? "?"})`;
      for (const problem of validateDocument(value, customKinds)) {
        all.push(`${label}: ${problem}`);
      }
    }
    if (all.length > 0) {
      failed = true;
      all.forEach((p) => process.stderr.write(`${file}: ${p}\n`));
    } else {
      process.stdout.write(`ok ${file} (${documents.length} documents)\n`);
    }
  }
  if (needs) {
    const problems = checkRuntimeNeeds(parsed.flatMap((p) => p.documents.map((d) => d.value)), needs);
    problems.forEach((p) => process.stderr.write(`runtime: ${p}\n`));
    if (problems.length > 0) {
      failed = true;
    } else {
      process.stdout.write(`ok runtime needs (${parsed.length} files)\n`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
