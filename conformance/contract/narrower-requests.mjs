// node narrower-requests.mjs <base.yaml> <head.yaml>: fails (exit 1) when a request rule of an
// operation both documents is narrower in head: a smaller maxLength, maxItems or maximum, a
// larger minLength, minItems or minimum, a new or changed pattern, format or multipleOf,
// uniqueItems or an exclusive bound turned on, additionalProperties: false added, an enum
// value removed, in a parameter's schema or anywhere in a request body's schema ($ref and
// allOf followed). A client whose requests were valid would then be refused. Optic's
// breaking-changes ruleset (conformance/contract/check) catches the rest, but not these: it
// compares a property's own keywords only, and not inside allOf. Like Optic's, it lets a
// new major version (info.version) through.
import fs from "node:fs";
import yaml from "js-yaml";

const [basePath, headPath] = process.argv.slice(2);
const base = yaml.load(fs.readFileSync(basePath, "utf8"));
const head = yaml.load(fs.readFileSync(headPath, "utf8"));
const majorOf = (doc) => Number(String(doc.info?.version ?? "0").split(".")[0]);
if (majorOf(head) > majorOf(base)) {
  console.log(`narrower request rules: not checked (major version ${majorOf(base)} -> ${majorOf(head)})`);
  process.exit(0);
}

const BOUNDS = {
  maxLength: "upper", maxItems: "upper", maxProperties: "upper", maximum: "upper",
  minLength: "lower", minItems: "lower", minProperties: "lower", minimum: "lower",
  pattern: "exact", format: "exact", multipleOf: "exact",
  uniqueItems: "flag", exclusiveMaximum: "flag", exclusiveMinimum: "flag",
};

/** The schema with $refs resolved and allOf parts merged into one. */
function resolve(doc, schema, seen = new Set()) {
  if (!schema || typeof schema !== "object") return {};
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return {};
    const target = schema.$ref.replace(/^#\//, "").split("/").reduce((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    return resolve(doc, target, new Set([...seen, schema.$ref]));
  }
  if (!Array.isArray(schema.allOf)) return schema;
  const { allOf, ...own } = schema;
  const merged = { ...own, properties: { ...(own.properties ?? {}) }, required: [...(own.required ?? [])] };
  for (const part of allOf.map((p) => resolve(doc, p, seen))) {
    Object.assign(merged.properties, part.properties ?? {});
    merged.required.push(...(part.required ?? []));
    for (const [key, value] of Object.entries(part)) {
      if (!["properties", "required"].includes(key) && !(key in own)) merged[key] = value;
    }
  }
  return merged;
}

function narrowings(before, after, where, found, depth = 0) {
  if (depth > 32) return;
  const b = resolve(base, before);
  const a = resolve(head, after);
  for (const [keyword, kind] of Object.entries(BOUNDS)) {
    const was = b[keyword];
    const is = a[keyword];
    if (is === undefined || JSON.stringify(was) === JSON.stringify(is)) continue;
    const narrower = was === undefined
      ? kind !== "flag" || is === true
      : kind === "upper" ? is < was : kind === "lower" ? is > was : kind === "exact" ? true : is === true;
    if (narrower) found.push(`${where}: ${keyword} ${was === undefined ? "added:" : `${JSON.stringify(was)} ->`} ${JSON.stringify(is)}`);
  }
  if (b.additionalProperties !== false && a.additionalProperties === false) {
    found.push(`${where}: additionalProperties: false added`);
  }
  if (Array.isArray(a.enum)) {
    const lost = Array.isArray(b.enum) ? b.enum.filter((v) => !a.enum.includes(v)) : ["any value not listed"];
    if (lost.length) found.push(`${where}: enum no longer allows ${lost.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  for (const [name, schema] of Object.entries(b.properties ?? {})) {
    if (a.properties?.[name]) narrowings(schema, a.properties[name], `${where}.${name}`, found, depth + 1);
  }
  if (b.items && a.items) narrowings(b.items, a.items, `${where}[]`, found, depth + 1);
}

const found = [];
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
for (const [path, baseItem] of Object.entries(base.paths ?? {})) {
  const headItem = head.paths?.[path];
  if (!headItem) continue;
  for (const method of METHODS.filter((m) => baseItem[m] && headItem[m])) {
    const operation = `${method.toUpperCase()} ${path}`;
    const parameters = (item, op) => [...(item.parameters ?? []), ...(op.parameters ?? [])];
    for (const p of parameters(baseItem, baseItem[method])) {
      const q = parameters(headItem, headItem[method]).find((x) => x.name === p.name && x.in === p.in);
      if (q) narrowings(p.schema, q.schema, `${operation} ${p.in} parameter ${p.name}`, found);
    }
    const baseContent = baseItem[method].requestBody?.content ?? {};
    const headContent = headItem[method].requestBody?.content ?? {};
    for (const [type, media] of Object.entries(baseContent)) {
      if (headContent[type]) narrowings(media.schema, headContent[type].schema, `${operation} body`, found);
    }
  }
}
if (found.length) {
  console.log("narrower request rules (breaking):");
  for (const f of found) console.log(`  x ${f}`);
  process.exit(1);
}
console.log("narrower request rules: none");
