// The client scenario against a live server, through the TypeScript client generated from
// openapi.yaml: register a customer, set and read its special treatment, and get a typed
// ErrorResponse for a bad body; then the categories: create and replace two, page through the
// catalogue, file a customer under them, list a category's members, and delete a category
// (409 while it has members, 204 once it has none); then register, list, patch, reveal (with
// the privileged token, CAPI_REVEAL_TOKEN) and delete an external account; then an
// identification process from creation to approval by a second principal (the creator's own
// decision is 403, four eyes), the customer's processes newest first and by status, a
// cancelled one, and an illegal transition (409 naming status); then set, verify (right and
// wrong, with CAPI_VERIFY_TOKEN) and reset a credential. Any mismatch between spec and
// server fails here.
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

// Categories. Keys unique to this run: Schemathesis has already filled the catalogue.
const run = `ts-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const [keyA, keyB] = [`${run}-a`, `${run}-b`];
const categoryPath = (key: string) => ({ org_id: org, key });
// B first: the list's order is the keys', not the creation order.
const createdB = await client.PUT("/v1/organizations/{org_id}/categories/{key}", {
  params: { path: categoryPath(keyB) },
  body: { name: "Staff" },
});
check(
  createdB.response.status === 201 && createdB.data?.key === keyB && createdB.data.description === null,
  "category created (201), description absent means null",
);
const createdA = await client.PUT("/v1/organizations/{org_id}/categories/{key}", {
  params: { path: categoryPath(keyA) },
  body: { name: "Retail", description: "Personal customers" },
});
check(createdA.response.status === 201 && createdA.data !== undefined, "second category created (201)");
check(
  createdA.response.headers.get("location") === `/v1/organizations/${org}/categories/${keyA}`,
  "Location names the category",
);
const replaced = await client.PUT("/v1/organizations/{org_id}/categories/{key}", {
  params: { path: categoryPath(keyA) },
  body: { name: "Retail banking", description: "Personal customers\nof the branches" },
});
check(
  replaced.response.status === 200 &&
    replaced.data?.name === "Retail banking" &&
    replaced.data.description === "Personal customers\nof the branches" &&
    replaced.data.created_at === createdA.data.created_at,
  "category replaced (200), created_at kept",
);

// The whole catalogue one category a page: key order (byte order), both of ours in it.
const seen: string[] = [];
let cursor: string | undefined;
for (let pages = 0; pages < 10_000; pages++) {
  const page = await client.GET("/v1/organizations/{org_id}/categories", {
    params: { path: { org_id: org }, query: cursor === undefined ? { limit: 1 } : { limit: 1, cursor } },
  });
  if (page.data === undefined || page.data.items.length !== 1) throw new Error("a page of one category");
  seen.push(page.data.items[0]!.key);
  if (page.data.next_cursor === null) break;
  cursor = page.data.next_cursor;
}
check(seen.length >= 2, `paged through ${seen.length} categories, limit=1 then next_cursor`);
check(
  seen.every((key, i) => i === 0 || Buffer.compare(Buffer.from(seen[i - 1]!), Buffer.from(key)) < 0),
  "categories listed in key order",
);
check(seen.indexOf(keyA) >= 0 && seen.indexOf(keyA) + 1 === seen.indexOf(keyB), "both categories listed, in key order");

const gotA = await client.GET("/v1/organizations/{org_id}/categories/{key}", { params: { path: categoryPath(keyA) } });
check(gotA.data?.name === "Retail banking", "category read (getCategory)");

const member = await client.POST("/v1/organizations/{org_id}/customers", {
  params: { path: { org_id: org } },
  body: { external_id: `${externalId}-member` },
});
check(member.response.status === 201 && member.data !== undefined, "a customer registered to file under them");
const memberPath = { org_id: org, customer_id: member.data.id };
const filed = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/categories", {
  params: { path: memberPath },
  body: { keys: [keyB, keyA] },
});
check(filed.response.status === 204, "customer's categories set (204)");
const keys = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/categories", {
  params: { path: memberPath },
});
check(JSON.stringify(keys.data?.keys) === JSON.stringify([keyA, keyB]), "customer's categories read back in key order");

const unknown = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/categories", {
  params: { path: memberPath },
  body: { keys: [keyA, `${run}-none`] },
});
check(
  unknown.response.status === 400 && unknown.error?.details?.[0]?.field === "keys[1]",
  "a key not in the catalogue is a 400 naming keys[1]",
);

const members = await client.GET("/v1/organizations/{org_id}/categories/{key}/customers", {
  params: { path: categoryPath(keyA), query: { limit: 10 } },
});
check(
  members.data !== undefined &&
    members.data.items.length === 1 &&
    members.data.items[0]?.id === member.data.id &&
    members.data.next_cursor === null,
  "the category's customers listed (listCategoryCustomers)",
);

const busy = await client.DELETE("/v1/organizations/{org_id}/categories/{key}", { params: { path: categoryPath(keyA) } });
check(
  busy.response.status === 409 && busy.error?.code === "conflict" && busy.error.details?.[0]?.field === "key",
  "a category with members is not deleted (409 conflict)",
);

const cleared = await client.PUT("/v1/organizations/{org_id}/customers/{customer_id}/categories", {
  params: { path: memberPath },
  body: { keys: [] },
});
const none = await client.GET("/v1/organizations/{org_id}/customers/{customer_id}/categories", {
  params: { path: memberPath },
});
check(cleared.response.status === 204 && none.data?.keys?.length === 0, "customer's categories cleared (204, then [])");

const removed = await client.DELETE("/v1/organizations/{org_id}/categories/{key}", { params: { path: categoryPath(keyA) } });
check(removed.response.status === 204, "category deleted (204)");
const gone = await client.GET("/v1/organizations/{org_id}/categories/{key}", { params: { path: categoryPath(keyA) } });
check(gone.response.status === 404 && gone.error?.code === "not_found", "a deleted category is not found (404)");

const removedB = await client.DELETE("/v1/organizations/{org_id}/categories/{key}", { params: { path: categoryPath(keyB) } });
const deletedMember = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}", {
  params: { path: memberPath },
});
check(removedB.response.status === 204 && deletedMember.response.status === 204, "cleaned up (204, 204)");

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

const removedAccount = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}/accounts/{account_id}", {
  params: { path: accountPath },
});
check(removedAccount.response.status === 204, "account deleted (204)");

// Customer identification processes. CAPI_TOKEN (sub "conformance") creates; the same sub with
// the review scope may not decide (four eyes); CAPI_REVIEWER_TOKEN (sub "reviewer") decides.
const creatorReviewToken = process.env.CAPI_CREATOR_REVIEW_TOKEN;
const reviewerToken = process.env.CAPI_REVIEWER_TOKEN;
if (!creatorReviewToken || !reviewerToken) throw new Error("CAPI_CREATOR_REVIEW_TOKEN and CAPI_REVIEWER_TOKEN must be set");
const creatorReviewer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${creatorReviewToken}` } });
const reviewer = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${reviewerToken}` } });

const subject = await client.POST("/v1/organizations/{org_id}/customers", {
  params: { path: { org_id: org } },
  body: { external_id: `${externalId}-kyc` },
});
check(subject.response.status === 201 && subject.data !== undefined, "a customer registered to identify");
const kycPath = { org_id: org, customer_id: subject.data.id };
const processes = "/v1/organizations/{org_id}/customers/{customer_id}/identification-processes" as const;
const started = await client.POST(processes, {
  params: { path: kycPath },
  body: { method: "document", provider: "conformance-kyc", provider_reference: `${run}-ref-1` },
});
check(started.response.status === 201 && started.data !== undefined, "identification process created (201)");
const first = started.data;
check(
  first.status === "created" &&
    first.method === "document" &&
    first.provider === "conformance-kyc" &&
    first.provider_reference === `${run}-ref-1` &&
    first.customer_id === subject.data.id &&
    first.created_by === "conformance" &&
    first.decided_at === null &&
    first.decided_by === null,
  "the process is typed: created, by the token's sub, undecided",
);
check(
  started.response.headers.get("location") ===
    `/v1/organizations/${org}/customers/${subject.data.id}/identification-processes/${first.id}`,
  "Location names the process",
);
const firstPath = { ...kycPath, process_id: first.id };
const submitted = await client.POST(`${processes}/{process_id}/submit`, { params: { path: firstPath } });
check(submitted.response.status === 200 && submitted.data?.status === "pending", "submitted (200 pending)");

const ownDecision = await creatorReviewer.POST(`${processes}/{process_id}/approve`, { params: { path: firstPath } });
check(
  ownDecision.response.status === 403 &&
    ownDecision.error?.code === "forbidden" &&
    ownDecision.error.message.includes("four eyes"),
  "the creator's own approval is refused (403 forbidden, four eyes)",
);
const approved = await reviewer.POST(`${processes}/{process_id}/approve`, { params: { path: firstPath } });
check(
  approved.response.status === 200 &&
    approved.data?.status === "approved" &&
    approved.data.decided_by === "reviewer" &&
    approved.data.decided_at !== null &&
    approved.data.created_by === "conformance",
  "approved by a second principal (200, decided_by = reviewer)",
);
const readBack = await client.GET(`${processes}/{process_id}`, { params: { path: firstPath } });
check(
  readBack.data?.status === "approved" && readBack.data.decided_by === "reviewer",
  "the approval read back (getIdentificationProcess)",
);

const retried = await client.POST(processes, { params: { path: kycPath }, body: { method: "video" } });
check(
  retried.response.status === 201 && retried.data?.provider === null && retried.data.provider_reference === null,
  "a second process created (201), provider absent means null",
);
const secondPath = { ...kycPath, process_id: retried.data.id };
const cancelled = await client.POST(`${processes}/{process_id}/cancel`, { params: { path: secondPath } });
check(
  cancelled.response.status === 200 && cancelled.data?.status === "cancelled" && cancelled.data.decided_by === null,
  "the second process cancelled (200)",
);
const illegal = await client.POST(`${processes}/{process_id}/submit`, { params: { path: secondPath } });
check(
  illegal.response.status === 409 &&
    illegal.error?.code === "conflict" &&
    illegal.error.details?.[0]?.field === "status",
  "submitting a cancelled process is 409 conflict naming status",
);

const history = await client.GET(processes, { params: { path: kycPath } });
check(
  JSON.stringify(history.data?.items.map((p) => [p.id, p.status])) ===
    JSON.stringify([
      [retried.data.id, "cancelled"],
      [first.id, "approved"],
    ]) && history.data?.next_cursor === null,
  "the customer's processes listed newest first (listIdentificationProcesses)",
);
const onlyApproved = await reviewer.GET(processes, { params: { path: kycPath, query: { status: "approved" } } });
check(
  JSON.stringify(onlyApproved.data?.items.map((p) => p.id)) === JSON.stringify([first.id]),
  "status=approved lists the approved one only",
);
const badStatus = await client.GET(processes, {
  // Not a status: the generated type refuses it, the server too.
  params: { path: kycPath, query: { status: "done" as unknown as "approved" } },
});
check(
  badStatus.response.status === 400 && badStatus.error?.code === "invalid_parameter",
  "an unknown status filter is 400 invalid_parameter",
);
const kycDeleted = await client.DELETE("/v1/organizations/{org_id}/customers/{customer_id}", { params: { path: kycPath } });
check(kycDeleted.response.status === 204, "a customer whose processes are all finished is deleted (204)");

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
const verifyRefused = await client.POST(verifyPath, { params: { path: credPath }, body: { secret } });
check(verifyRefused.response.status === 403 && verifyRefused.error?.code === "forbidden", "the default token cannot verify (403)");
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
