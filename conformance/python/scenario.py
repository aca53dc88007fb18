"""The client scenario against a live server, through the Python client that
openapi-python-client generates from openapi.yaml: register a customer, set and read its
special treatment, get a typed ErrorResponse for a bad body, and register, list, patch, reveal
(with the privileged token, CAPI_REVEAL_TOKEN) and delete an external account."""

import os
import sys
import uuid

from customers_api_client import AuthenticatedClient
from customers_api_client.api.customers import create_customer, delete_customer, list_customers
from customers_api_client.api.external_accounts import (
    create_external_account,
    delete_external_account,
    list_external_accounts,
    lookup_external_accounts,
    reveal_external_account_identification,
    update_external_account,
)
from customers_api_client.api.special_treatment import (
    get_customer_special_treatment,
    set_customer_special_treatment,
)
from customers_api_client.models import (
    AccountKind,
    AccountScheme,
    AccountStatus,
    ExternalAccount,
    ExternalAccountIdentification,
    ExternalAccountPatch,
    NewExternalAccount,
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

    # --- External accounts ---------------------------------------------------------------
    revealer = AuthenticatedClient(
        base_url=os.environ.get("CAPI_URL", "http://127.0.0.1:8080"),
        token=os.environ["CAPI_REVEAL_TOKEN"],
        raise_on_unexpected_status=True,
    )
    account_ref = f"py-acct-{uuid.uuid4()}"
    registered = create_external_account.sync_detailed(
        org_id=org,
        customer_id=customer.id,
        client=client,
        body=NewExternalAccount(
            external_id=account_ref,
            scheme=AccountScheme.IBAN,
            identification="GB82 WEST 1234 5698 7654 32",
            currency="GBP",
            kind=AccountKind.CURRENT,
        ),
    )
    check(registered.status_code == 201, "account registered (201)")
    account = registered.parsed
    check(isinstance(account, ExternalAccount), "the body parses as ExternalAccount")
    assert isinstance(account, ExternalAccount)
    check(account.identification_masked == "****5432", "the answer carries the masked number")
    check(b"identification\"" not in registered.content, "the answer has no identification")

    accounts = list_external_accounts.sync(org_id=org, customer_id=customer.id, client=client)
    check(
        accounts is not None and [a.id for a in accounts.items] == [account.id] and accounts.next_cursor is None,
        "the customer's accounts listed",
    )
    found = lookup_external_accounts.sync(org_id=org, client=client, external_id=account_ref)
    check(found is not None and [a.id for a in found.items] == [account.id], "found by external_id")

    patched = update_external_account.sync(
        org_id=org,
        customer_id=customer.id,
        account_id=account.id,
        client=client,
        body=ExternalAccountPatch(nickname="Joint", status=AccountStatus.DISABLED),
    )
    check(
        isinstance(patched, ExternalAccount) and patched.nickname == "Joint" and patched.status == AccountStatus.DISABLED,
        "account patched (200)",
    )

    refused = reveal_external_account_identification.sync_detailed(
        org_id=org, customer_id=customer.id, account_id=account.id, client=client
    )
    check(refused.status_code == 403, "the default token cannot reveal (403)")
    revealed = reveal_external_account_identification.sync(
        org_id=org, customer_id=customer.id, account_id=account.id, client=revealer
    )
    check(
        isinstance(revealed, ExternalAccountIdentification) and revealed.identification == "GB82WEST12345698765432",
        "the privileged token reveals the number",
    )

    removed = delete_external_account.sync_detailed(
        org_id=org, customer_id=customer.id, account_id=account.id, client=client
    )
    check(removed.status_code == 204, "account deleted (204)")

    deleted = delete_customer.sync_detailed(org_id=org, customer_id=customer.id, client=client)
    check(deleted.status_code == 204, "customer deleted (204)")
    print("python scenario: passed")


if __name__ == "__main__":
    main()
