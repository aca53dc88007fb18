// Swagger UI in a real browser (Debian's Chromium, driven by playwright-core): the page loads
// from the binary alone, its tag sections come in the document's order (the original API
// document's navigation, then "Service"; Swagger UI's default, no tagsSorter, keeps the
// document's `tags` order), both special-treatment operations sit under "Special Treatment",
// the category operations under "Categories", the eight identification operations under
// "Customer Identification Processes",
// the Authorize dialog takes a bearer token, and "Try it out" on the GET shows the 200 body.
import { chromium } from "playwright-core";

const base = process.env.CAPI_URL ?? "http://127.0.0.1:8080";
const token = process.env.CAPI_TOKEN;
const org = process.env.CAPI_ORG ?? "acme";
const out = process.env.CONFORMANCE_OUT ?? ".";
if (!token) throw new Error("CAPI_TOKEN is not set");

function check(condition, what) {
  if (!condition) throw new Error(`swagger ui check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// A customer with a known treatment, through the API itself.
const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
const created = await fetch(`${base}/v1/organizations/${org}/customers`, {
  method: "POST",
  headers,
  body: JSON.stringify({ external_id: `browser-${Date.now()}` }),
});
check(created.status === 201, "test customer registered");
const customer = await created.json();
const put = await fetch(`${base}/v1/organizations/${org}/customers/${customer.id}/special-treatment`, {
  method: "PUT",
  headers,
  body: JSON.stringify({ values: ["vulnerable", "no-marketing"] }),
});
check(put.status === 204, "test treatment set");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const foreign = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith("data:")) foreign.push(url);
  });

  await page.goto(`${base}/docs`);
  await page.waitForSelector("#operations-Special_Treatment-getCustomerSpecialTreatment", { timeout: 30000 });
  const shown = await page.locator("h3.opblock-tag").evaluateAll((tags) => tags.map((t) => t.dataset.tag));
  const documented = (await (await fetch(`${base}/openapi.json`)).json()).tags.map((t) => t.name);
  const expected = ["External Accounts", "Customers", "Categories", "Special Treatment", "Customer Credentials", "Customer Identification Processes", "Service"];
  check(
    JSON.stringify(documented) === JSON.stringify(expected),
    `the document's tags are in navigation order: ${documented.join(", ")}`,
  );
  check(
    JSON.stringify(shown) === JSON.stringify(expected),
    `Swagger UI shows the tag sections in that order: ${shown.join(", ")}`,
  );
  const section = page.locator(".opblock-tag-section", {
    has: page.locator('h3.opblock-tag[data-tag="Special Treatment"]'),
  });
  check(
    (await section.locator("#operations-Special_Treatment-getCustomerSpecialTreatment").count()) === 1 &&
      (await section.locator("#operations-Special_Treatment-setCustomerSpecialTreatment").count()) === 1,
    'GET and PUT special treatment are listed under "Special Treatment"',
  );
  const categories = page.locator(".opblock-tag-section", {
    has: page.locator('h3.opblock-tag[data-tag="Categories"]'),
  });
  const categoryOperations = [
    "putCategory",
    "listCategories",
    "getCategory",
    "deleteCategory",
    "listCategoryCustomers",
    "getCustomerCategories",
    "setCustomerCategories",
  ];
  const listed = await Promise.all(
    categoryOperations.map((id) => categories.locator(`#operations-Categories-${id}`).count()),
  );
  check(listed.every((count) => count === 1), `the ${categoryOperations.length} category operations are listed under "Categories"`);
  const identification = page.locator(".opblock-tag-section", {
    has: page.locator('h3.opblock-tag[data-tag="Customer Identification Processes"]'),
  });
  const identificationOperations = [
    "createIdentificationProcess",
    "listIdentificationProcesses",
    "getIdentificationProcess",
    "submitIdentificationProcess",
    "cancelIdentificationProcess",
    "startIdentificationReview",
    "approveIdentificationProcess",
    "rejectIdentificationProcess",
  ];
  const shownIdentification = await Promise.all(
    identificationOperations.map((id) =>
      identification.locator(`#operations-Customer_Identification_Processes-${id}`).count(),
    ),
  );
  check(
    shownIdentification.every((count) => count === 1),
    `the ${identificationOperations.length} identification operations are listed under "Customer Identification Processes"`,
  );

  await page.click(".auth-wrapper button.authorize");
  await page.fill(".modal-ux .auth-container input", token);
  await page.click(".modal-ux .auth-btn-wrapper button.authorize");
  await page.click(".modal-ux button.btn-done");
  check(true, "authorized with the bearer token");

  const operation = page.locator("#operations-Special_Treatment-getCustomerSpecialTreatment");
  await operation.locator(".opblock-summary").click();
  // The button only reacts once the expanded block has settled: press until Execute shows.
  const execute = operation.locator("button.execute");
  for (let attempt = 0; attempt < 20 && !(await execute.isVisible()); attempt++) {
    await operation.locator("button.try-out__btn").click();
    await page.waitForTimeout(500);
  }
  await execute.waitFor({ state: "visible", timeout: 10000 });
  await operation.locator('tr[data-param-name="org_id"] input').fill(org);
  await operation.locator('tr[data-param-name="customer_id"] input').fill(customer.id);
  await operation.locator("button.execute").click();
  const status = operation.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 30000 });
  const statusText = (await status.innerText()).trim();
  const body = await operation.locator(".live-responses-table .response-col_description pre").first().innerText();
  await page.screenshot({ path: `${out}/swagger-ui.png`, fullPage: true });
  check(statusText.startsWith("200"), `"Try it out" on the GET answered ${statusText}`);
  check(body.includes("vulnerable") && body.includes("no-marketing"), "the 200 body shows the treatment");
  check(foreign.length === 0, `no asset came from outside the binary (${foreign.join(", ") || "none"})`);
  console.log(`screenshot: ${out}/swagger-ui.png`);
  console.log("swagger ui: passed");
} catch (error) {
  const pages = browser.contexts().flatMap((context) => context.pages());
  if (pages[0]) await pages[0].screenshot({ path: `${out}/swagger-ui-failure.png`, fullPage: true });
  throw error;
} finally {
  await browser.close();
}
