"""The client scenario against a live server, through the Python client that
openapi-python-client generates from openapi.yaml: register a customer, set and read its
special treatment, and get a typed ErrorResponse for a bad body."""

import os
import sys
import uuid

from customers_api_client import AuthenticatedClient
from customers_api_client.api.customers import create_customer, delete_customer, list_customers
from customers_api_client.api.special_treatment import (
    get_customer_special_treatment,
    set_customer_special_treatment,
)
from customers_api_client.models import (
    Customer,
    ErrorResponse,
    NewCustomer,
    SpecialTreatmentValues,
)


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"scenario failed: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok - {what}")


def main() -> None:
    client = AuthenticatedClient(
        base_url=os.environ.get("CAPI_URL", "http://127.0.0.1:8080"),
        token=os.environ["CAPI_TOKEN"],
        raise_on_unexpected_status=True,
    )
    org = os.environ.get("CAPI_ORG", "acme")
    external_id = f"py-sdk-{uuid.uuid4()}"

    created = create_customer.sync_detailed(
        org_id=org,
        client=client,
        body=NewCustomer(external_id=external_id, display_name="Python SDK"),
    )
    check(created.status_code == 201, "customer registered (201)")
    customer = created.parsed
    check(isinstance(customer, Customer), "the body parses as Customer")
    assert isinstance(customer, Customer)
    check(customer.external_id == external_id, "external_id round-trips")
    check(created.headers["location"].endswith(str(customer.id)), "Location names the customer")

    page = list_customers.sync(org_id=org, client=client, external_id=external_id)
    check(
        page is not None and [c.id for c in page.items] == [customer.id] and page.next_cursor is None,
        "listed by external_id",
    )

    treatment = get_customer_special_treatment.sync(org_id=org, customer_id=customer.id, client=client)
    check(isinstance(treatment, SpecialTreatmentValues) and treatment.values == [], "no treatment yet")

    set_ok = set_customer_special_treatment.sync_detailed(
        org_id=org,
        customer_id=customer.id,
        client=client,
        body=SpecialTreatmentValues(values=["vulnerable", "no-marketing"]),
    )
    check(set_ok.status_code == 204, "special treatment set (204)")

    treatment = get_customer_special_treatment.sync(org_id=org, customer_id=customer.id, client=client)
    check(
        isinstance(treatment, SpecialTreatmentValues) and treatment.values == ["vulnerable", "no-marketing"],
        "special treatment read back in order",
    )

    bad = set_customer_special_treatment.sync_detailed(
        org_id=org,
        customer_id=customer.id,
        client=client,
        body=SpecialTreatmentValues(values=["vip", "vip"]),
    )
    check(bad.status_code == 400, "a bad body is a 400")
    error = bad.parsed
    check(isinstance(error, ErrorResponse), "the 400 body parses as ErrorResponse")
    assert isinstance(error, ErrorResponse)
    check(error.code == "invalid_request_body", "typed ErrorResponse.code")
    check(error.details[0].field == "values[1]", "typed ErrorResponse.details names the field")
    check(error.request_id == bad.headers["x-request-id"], "request_id matches X-Request-Id")

    deleted = delete_customer.sync_detailed(org_id=org, customer_id=customer.id, client=client)
    check(deleted.status_code == 204, "customer deleted (204)")
    print("python scenario: passed")


if __name__ == "__main__":
    main()
