// The client scenario against a live server, through the TypeScript client generated from
// openapi.yaml: register a customer, set and read its special treatment, and get a typed
// ErrorResponse for a bad body. Any mismatch between spec and server fails here.
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

// Credentials: staff set a password, a channel (privileged token) verifies right and wrong,
// staff reset it. The secret is random: it exists only in this process.
const verifyToken = process.env.CAPI_VERIFY_TOKEN;
if (!verifyToken) throw new Error("CAPI_VERIFY_TOKEN is not set");
const channel = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${verifyToken}` } });
const secret = `ts-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const credentials = "/v1/organizations/{org_id}/customers/{customer_id}/credentials";
const setCred = await client.POST(credentials, {
  params: { path },
  body: { type: "password", secret, label: "TypeScript SDK" },
});
check(setCred.response.status === 201 && setCred.data !== undefined, "credential set (201)");
const credential = setCred.data;
check(
  credential.type === "password" && credential.status === "active" && credential.failed_attempts === 0,
  "credential body is typed (type, status, failed_attempts)",
);
check(!JSON.stringify(credential).includes(secret), "the answer holds no secret");
const credPath = { ...path, credential_id: credential.id };
const verifyPath = "/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}/verify";
const right = await channel.POST(verifyPath, { params: { path: credPath }, body: { secret } });
check(right.data?.valid === true && right.data.status === "active", "the right secret verifies");
const wrong = await channel.POST(verifyPath, { params: { path: credPath }, body: { secret: `${secret}x` } });
check(wrong.data?.valid === false && wrong.data.status === "active", "a wrong secret does not");
const counted = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}", {
  params: { path: credPath },
});
check(counted.data?.failed_attempts === 1, "the failure is counted");
const refused = await client.POST(verifyPath, { params: { path: credPath }, body: { secret } });
check(refused.response.status === 403 && refused.error?.code === "forbidden", "the default token cannot verify (403)");
const newSecret = `${secret}-new`;
const reset = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/credentials/{credential_id}/secret", {
  params: { path: credPath },
  body: { secret: newSecret, must_change: true },
});
check(reset.response.status === 204, "secret reset (204)");
const afterReset = await channel.POST(verifyPath, { params: { path: credPath }, body: { secret: newSecret } });
check(
  afterReset.data?.valid === true && afterReset.data.must_change === true,
  "the new secret verifies, must_change set",
);
const old = await channel.POST(verifyPath, { params: { path: credPath }, body: { secret } });
check(old.data?.valid === false, "the old secret no longer verifies");
const listedCreds = await client.GET(credentials, { params: { path } });
check(
  listedCreds.data?.items.length === 1 && listedCreds.data.items[0]?.failed_attempts === 1 && listedCreds.data.next_cursor === null,
  "listed (listCustomerCredentials)",
);

const deleted = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}", { params: { path } });
check(deleted.response.status === 204, "customer deleted (204)");
console.log("typescript scenario: passed");
