// Writes deliberately changed copies of a document for conformance/contract/check's self-test:
// node variants.mjs <document.yaml> <out-dir>. Each file is named <expect>--<what>.yaml, where
// <expect> is "breaking" (the check must fail) or "compatible" (it must pass). "base--*" files
// are the base a variant is compared with when it is not the document itself.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const [source, out] = process.argv.slice(2);
const original = yaml.load(fs.readFileSync(source, "utf8"));
const copy = () => structuredClone(original);
const write = (name, doc) => fs.writeFileSync(path.join(out, `${name}.yaml`), yaml.dump(doc, { noRefs: true }));
const customers = "/v1/organizations/{org_id}/customers";
const customer = `${customers}/{customer_id}`;
const schemas = (doc) => doc.components.schemas;
const major = (doc) => {
  const [m] = doc.info.version.split(".");
  doc.info.version = `${Number(m) + 1}.0.0`;
};

const variants = {
  "breaking--an-operation-removed": (doc) => delete doc.paths[customer].delete,
  "breaking--a-response-field-removed": (doc) => {
    delete schemas(doc).Customer.properties.updated_at;
    schemas(doc).Customer.required = schemas(doc).Customer.required.filter((f) => f !== "updated_at");
  },
  "breaking--a-new-required-request-field": (doc) => schemas(doc).NewCustomer.required.push("display_name"),
  "breaking--a-smaller-maxLength": (doc) => (schemas(doc).NewCustomer.properties.external_id.maxLength = 64),
  "breaking--a-smaller-maxLength-on-array-items": (doc) =>
    (schemas(doc).SpecialTreatmentValues.properties.values.items.maxLength = 32),
  "breaking--a-smaller-maximum-on-a-parameter": (doc) => {
    const limit = doc.paths[customers].get.parameters.find((p) => p.name === "limit");
    limit.schema.maximum = 100;
  },
  "breaking--a-new-pattern": (doc) => (schemas(doc).NewCustomer.properties.display_name.pattern = "^[A-Za-z ]*$"),
  "breaking--a-new-required-query-parameter": (doc) =>
    doc.paths[customers].get.parameters.push({ name: "region", in: "query", required: true, schema: { type: "string" } }),
  "compatible--a-new-optional-response-field-and-operation": (doc) => {
    schemas(doc).Customer.properties.note = { type: "string", nullable: true };
    doc.paths["/v1/organizations/{org_id}/notes"] = {
      get: {
        operationId: "listNotes",
        summary: "List notes",
        responses: { 200: { description: "ok", content: { "application/json": { schema: { type: "object" } } } } },
      },
    };
  },
  "compatible--a-larger-maxLength": (doc) => (schemas(doc).NewCustomer.properties.external_id.maxLength = 256),
  "compatible--an-operation-removed-with-a-new-major-version": (doc) => {
    delete doc.paths[customer].delete;
    major(doc);
  },
};
for (const [name, change] of Object.entries(variants)) {
  const doc = copy();
  change(doc);
  write(name, doc);
}

// An enum value removed from a request field: the base has the enum, the variant one value less.
const withEnum = copy();
schemas(withEnum).NewCustomer.properties.display_name.enum = ["Ada", "Grace"];
write("base--breaking--an-enum-value-removed", withEnum);
const lessEnum = structuredClone(withEnum);
schemas(lessEnum).NewCustomer.properties.display_name.enum = ["Ada"];
write("breaking--an-enum-value-removed", lessEnum);
