"""The client scenario against a live server, through the Python client that
openapi-python-client generates from openapi.yaml: register a customer, set and read its
special treatment, get a typed ErrorResponse for a bad body, and set, verify (right and wrong)
and reset a credential (the verifications with CAPI_VERIFY_TOKEN, which has the privileged
credentials:verify)."""

import os
import secrets
import sys
import uuid

from customers_api_client import AuthenticatedClient
from customers_api_client.api.customer_credentials import (
    create_customer_credential,
    get_customer_credential,
    set_customer_credential_secret,
    verify_customer_credential,
)
from customers_api_client.api.customers import create_customer, delete_customer, list_customers
from customers_api_client.api.special_treatment import (
    get_customer_special_treatment,
    set_customer_special_treatment,
)
from customers_api_client.models import (
    CredentialStatus,
    CredentialVerification,
    CredentialVerificationResult,
    Customer,
    CustomerCredential,
    ErrorResponse,
    NewCredentialSecret,
    NewCustomer,
    NewCustomerCredential,
    NewCustomerCredentialType,
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

    # Credentials: set a password, verify right and wrong (privileged token), reset it.
    channel = AuthenticatedClient(
        base_url=os.environ.get("CAPI_URL", "http://127.0.0.1:8080"),
        token=os.environ["CAPI_VERIFY_TOKEN"],
        raise_on_unexpected_status=True,
    )
    secret = f"py-{secrets.token_urlsafe(16)}"
    created_cred = create_customer_credential.sync_detailed(
        org_id=org,
        customer_id=customer.id,
        client=client,
        body=NewCustomerCredential(type_=NewCustomerCredentialType.PASSWORD, secret=secret, label="Python SDK"),
    )
    check(created_cred.status_code == 201, "credential set (201)")
    credential = created_cred.parsed
    check(isinstance(credential, CustomerCredential), "the body parses as CustomerCredential")
    assert isinstance(credential, CustomerCredential)
    check(credential.status == CredentialStatus.ACTIVE and credential.failed_attempts == 0, "active, no failures")
    check(secret not in created_cred.content.decode(), "the answer holds no secret")

    def verify(with_secret: str) -> CredentialVerificationResult:
        result = verify_customer_credential.sync(
            org_id=org,
            customer_id=customer.id,
            credential_id=credential.id,
            client=channel,
            body=CredentialVerification(secret=with_secret),
        )
        assert isinstance(result, CredentialVerificationResult)
        return result

    check(verify(secret).valid is True, "the right secret verifies")
    wrong = verify(secret + "x")
    check(wrong.valid is False and wrong.status == CredentialStatus.ACTIVE, "a wrong one does not")
    counted = get_customer_credential.sync(
        org_id=org, customer_id=customer.id, credential_id=credential.id, client=client
    )
    check(isinstance(counted, CustomerCredential) and counted.failed_attempts == 1, "the failure is counted")

    new_secret = secret + "-new"
    reset = set_customer_credential_secret.sync_detailed(
        org_id=org,
        customer_id=customer.id,
        credential_id=credential.id,
        client=client,
        body=NewCredentialSecret(secret=new_secret, must_change=True),
    )
    check(reset.status_code == 204, "secret reset (204)")
    after = verify(new_secret)
    check(after.valid is True and after.must_change is True, "the new secret verifies, must_change set")
    check(verify(secret).valid is False, "the old secret no longer verifies")

    deleted = delete_customer.sync_detailed(org_id=org, customer_id=customer.id, client=client)
    check(deleted.status_code == 204, "customer deleted (204)")
    print("python scenario: passed")


if __name__ == "__main__":
    main()
