// The client scenario against a live server, through the TypeScript client generated from
// openapi.yaml: register a customer, set and read its special treatment, get a typed
// ErrorResponse for a bad body, and register, list, patch, reveal (with the privileged token,
// CAPI_REVEAL_TOKEN) and delete an external account. Any mismatch between spec and server fails
// here.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type ErrorResponse = components["schemas"]["ErrorResponse"];

const baseUrl = process.env.CAPI_URL ?? "http://127.0.0.1:8080";
const token = process.env.CAPI_TOKEN;
if (!token) throw new Error("CAPI_TOKEN is not set");
const org = process.env.CAPI_ORG ?? "acme";

const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`scenario failed: ${what}`);
  console.log(`ok - ${what}`);
}

const externalId = `ts-sdk-${Date.now()}-${Math.random().toString(36).slice(2)}`;
const created = await client.POST("/v1/organizations/{org_id}/customers", {
  params: { path: { org_id: org } },
  body: { external_id: externalId, display_name: "TypeScript SDK" },
});
check(created.response.status === 201 && created.data !== undefined, "customer registered (201)");
const customer = created.data;
check(customer.external_id === externalId && customer.display_name === "TypeScript SDK", "customer body is typed");
check(created.response.headers.get("location")?.endsWith(customer.id) === true, "Location names the customer");

const listed = await client.GET("/v1/organizations/{org_id}/customers", {
  params: { path: { org_id: org }, query: { external_id: externalId } },
});
check(
  listed.response.status === 200 &&
    listed.data !== undefined &&
    listed.data.items.length === 1 &&
    listed.data.items[0]?.id === customer.id &&
    listed.data.next_cursor === null,
  "listed by external_id (listCustomers)",
);

const path = { org_id: org, customer_id: customer.id };
const initial = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/special-treatment", {
  params: { path },
});
check(initial.data !== undefined && initial.data.values?.length === 0, "a new customer has no special treatment");

const set = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/special-treatment", {
  params: { path },
  body: { values: ["vulnerable", "no-marketing"] },
});
check(set.response.status === 204, "special treatment set (204)");

const read = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/special-treatment", {
  params: { path },
});
check(
  JSON.stringify(read.data?.values) === JSON.stringify(["vulnerable", "no-marketing"]),
  "special treatment read back in order",
);

const bad = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/special-treatment", {
  params: { path },
  body: { values: ["vip", "vip"] },
});
const error: ErrorResponse | undefined = bad.error;
check(bad.response.status === 400 && error !== undefined, "a bad body is a 400");
check(error.code === "invalid_request_body", "typed ErrorResponse.code");
check(error.details?.[0]?.field === "values[1]", "typed ErrorResponse.details names the field");
check(error.request_id === bad.response.headers.get("x-request-id"), "request_id matches X-Request-Id");

// --- External accounts -------------------------------------------------------------------
const revealToken = process.env.CAPI_REVEAL_TOKEN;
if (!revealToken) throw new Error("CAPI_REVEAL_TOKEN is not set");
const revealer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${revealToken}` } });

const accountRef = `ts-acct-${Date.now()}-${Math.random().toString(36).slice(2)}`;
const registered = await client.POST("/v1/organizations/{org_id}/customers/{customer_id}/accounts", {
  params: { path },
  body: {
    external_id: accountRef,
    scheme: "iban",
    identification: "GB82 WEST 1234 5698 7654 32",
    currency: "GBP",
    kind: "current",
  },
});
check(registered.response.status === 201 && registered.data !== undefined, "account registered (201)");
const account = registered.data;
check(account.identification_masked === "****5432" && account.status === "active", "the answer is masked and active");
check(!("identification" in account), "the answer has no identification");
const accountPath = { ...path, account_id: account.id };

const accounts = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/accounts", {
  params: { path },
});
check(
  accounts.data?.items.length === 1 && accounts.data.items[0]?.id === account.id && accounts.data.next_cursor === null,
  "the customer's accounts listed (listExternalAccounts)",
);
const found = await client.GET("/v1/organizations/{org_id}/accounts", {
  params: { path: { org_id: org }, query: { external_id: accountRef } },
});
check(found.data?.items[0]?.id === account.id, "found by external_id (lookupExternalAccounts)");

const patched = await client.PATCH("/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}", {
  params: { path: accountPath },
  body: { nickname: "Joint", status: "disabled" },
});
check(patched.data?.nickname === "Joint" && patched.data.status === "disabled", "account patched (200)");

const refused = await client.GET(
  "/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}/identification",
  { params: { path: accountPath } },
);
check(refused.response.status === 403 && refused.error?.code === "forbidden", "the default token cannot reveal (403)");
const revealed = await revealer.GET(
  "/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}/identification",
  { params: { path: accountPath } },
);
check(
  revealed.data?.scheme === "iban" && revealed.data.identification === "GB82WEST12345698765432",
  "the privileged token reveals the number",
);

const removed = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}", {
  params: { path: accountPath },
});
check(removed.response.status === 204, "account deleted (204)");

const deleted = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}", { params: { path } });
check(deleted.response.status === 204, "customer deleted (204)");
console.log("typescript scenario: passed");
