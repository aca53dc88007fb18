"""The client scenario against a live server, through the Python client that
openapi-python-client generates from openapi.yaml: register a customer, set and read its
special treatment, and get a typed ErrorResponse for a bad body; then the categories: create
and replace two, page through the catalogue, file a customer under them, list a category's
members, and delete a category (409 while it has members, 204 once it has none); then register,
list, patch, reveal (with the privileged token, CAPI_REVEAL_TOKEN) and delete an external
account; then an identification process from creation to approval by a second principal (the
creator's own decision is 403, four eyes), the customer's processes newest first and by
status, a cancelled one, and an illegal transition (409 naming status); then set, verify
(right and wrong, with CAPI_VERIFY_TOKEN, which has the privileged credentials:verify) and
reset a credential."""

import os
import secrets
import sys
import uuid

from customers_api_client import AuthenticatedClient
from customers_api_client.api.categories import (
    delete_category,
    get_category,
    get_customer_categories,
    list_categories,
    list_category_customers,
    put_category,
    set_customer_categories,
)
from customers_api_client.api.customer_identification_processes import (
    approve_identification_process,
    cancel_identification_process,
    create_identification_process,
    get_identification_process,
    list_identification_processes,
    submit_identification_process,
)
from customers_api_client.api.customer_credentials import (
    create_customer_credential,
    get_customer_credential,
    set_customer_credential_secret,
    verify_customer_credential,
)
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
    Category,
    CategoryDefinition,
    CategoryPage,
    CredentialStatus,
    CredentialVerification,
    CredentialVerificationResult,
    Customer,
    CustomerCategories,
    CustomerCredential,
    CustomerPage,
    ErrorResponse,
    ExternalAccount,
    ExternalAccountIdentification,
    ExternalAccountPatch,
    IdentificationMethod,
    IdentificationProcess,
    IdentificationProcessPage,
    IdentificationStatus,
    NewCredentialSecret,
    NewCustomer,
    NewCustomerCredential,
    NewCustomerCredentialType,
    NewExternalAccount,
    NewIdentificationProcess,
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

    categories(client, org, external_id)
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
    identification(client, org, external_id)
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


def categories(client: AuthenticatedClient, org: str, external_id: str) -> None:
    """Two categories, the catalogue in pages, a member, and the delete rules."""
    # Keys unique to this run: Schemathesis has already filled the catalogue.
    run = f"py-{uuid.uuid4().hex[:12]}"
    key_a, key_b = f"{run}-a", f"{run}-b"

    # B first: the list's order is the keys', not the creation order.
    created_b = put_category.sync_detailed(
        org_id=org, key=key_b, client=client, body=CategoryDefinition(name="Staff")
    )
    check(
        created_b.status_code == 201
        and isinstance(created_b.parsed, Category)
        and created_b.parsed.key == key_b
        and created_b.parsed.description is None,
        "category created (201), description absent means null",
    )
    created_a = put_category.sync_detailed(
        org_id=org,
        key=key_a,
        client=client,
        body=CategoryDefinition(name="Retail", description="Personal customers"),
    )
    check(created_a.status_code == 201 and isinstance(created_a.parsed, Category), "second category created (201)")
    assert isinstance(created_a.parsed, Category)
    check(
        created_a.headers["location"] == f"/v1/organizations/{org}/categories/{key_a}",
        "Location names the category",
    )
    replaced = put_category.sync_detailed(
        org_id=org,
        key=key_a,
        client=client,
        body=CategoryDefinition(name="Retail banking", description="Personal customers\nof the branches"),
    )
    check(
        replaced.status_code == 200
        and isinstance(replaced.parsed, Category)
        and replaced.parsed.name == "Retail banking"
        and replaced.parsed.description == "Personal customers\nof the branches"
        and replaced.parsed.created_at == created_a.parsed.created_at,
        "category replaced (200), created_at kept",
    )

    # The whole catalogue one category a page: key order (byte order), both of ours in it.
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10_000):
        if cursor is None:
            page = list_categories.sync(org_id=org, client=client, limit=1)
        else:
            page = list_categories.sync(org_id=org, client=client, limit=1, cursor=cursor)
        assert isinstance(page, CategoryPage) and len(page.items) == 1, "a page of one category"
        seen.append(page.items[0].key)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    check(len(seen) >= 2, f"paged through {len(seen)} categories, limit=1 then next_cursor")
    encoded = [key.encode() for key in seen]
    check(encoded == sorted(set(encoded)), "categories listed in key order")
    check(key_a in seen and seen.index(key_a) + 1 == seen.index(key_b), "both categories listed, in key order")

    got = get_category.sync(org_id=org, key=key_a, client=client)
    check(isinstance(got, Category) and got.name == "Retail banking", "category read (getCategory)")

    member = create_customer.sync(
        org_id=org, client=client, body=NewCustomer(external_id=f"{external_id}-member")
    )
    check(isinstance(member, Customer), "a customer registered to file under them")
    assert isinstance(member, Customer)
    filed = set_customer_categories.sync_detailed(
        org_id=org, customer_id=member.id, client=client, body=CustomerCategories(keys=[key_b, key_a])
    )
    check(filed.status_code == 204, "customer's categories set (204)")
    keys = get_customer_categories.sync(org_id=org, customer_id=member.id, client=client)
    check(
        isinstance(keys, CustomerCategories) and keys.keys == [key_a, key_b],
        "customer's categories read back in key order",
    )

    unknown = set_customer_categories.sync_detailed(
        org_id=org,
        customer_id=member.id,
        client=client,
        body=CustomerCategories(keys=[key_a, f"{run}-none"]),
    )
    check(
        unknown.status_code == 400
        and isinstance(unknown.parsed, ErrorResponse)
        and unknown.parsed.details[0].field == "keys[1]",
        "a key not in the catalogue is a 400 naming keys[1]",
    )

    members = list_category_customers.sync(org_id=org, key=key_a, client=client, limit=10)
    check(
        isinstance(members, CustomerPage)
        and [c.id for c in members.items] == [member.id]
        and members.next_cursor is None,
        "the category's customers listed (listCategoryCustomers)",
    )

    busy = delete_category.sync_detailed(org_id=org, key=key_a, client=client)
    check(
        busy.status_code == 409
        and isinstance(busy.parsed, ErrorResponse)
        and busy.parsed.code == "conflict"
        and busy.parsed.details[0].field == "key",
        "a category with members is not deleted (409 conflict)",
    )

    cleared = set_customer_categories.sync_detailed(
        org_id=org, customer_id=member.id, client=client, body=CustomerCategories(keys=[])
    )
    keys = get_customer_categories.sync(org_id=org, customer_id=member.id, client=client)
    check(
        cleared.status_code == 204 and isinstance(keys, CustomerCategories) and keys.keys == [],
        "customer's categories cleared (204, then [])",
    )

    removed = delete_category.sync_detailed(org_id=org, key=key_a, client=client)
    check(removed.status_code == 204, "category deleted (204)")
    gone = get_category.sync_detailed(org_id=org, key=key_a, client=client)
    check(
        gone.status_code == 404 and isinstance(gone.parsed, ErrorResponse) and gone.parsed.code == "not_found",
        "a deleted category is not found (404)",
    )

    removed_b = delete_category.sync_detailed(org_id=org, key=key_b, client=client)
    deleted_member = delete_customer.sync_detailed(org_id=org, customer_id=member.id, client=client)
    check(removed_b.status_code == 204 and deleted_member.status_code == 204, "cleaned up (204, 204)")


def identification(client: AuthenticatedClient, org: str, external_id: str) -> None:
    """A process from creation to approval by a second principal, then a cancelled one.

    CAPI_TOKEN (sub "conformance") creates; the same sub with the review scope may not decide
    (four eyes); CAPI_REVIEWER_TOKEN (sub "reviewer") decides."""
    base_url = os.environ.get("CAPI_URL", "http://127.0.0.1:8080")
    creator_reviewer = AuthenticatedClient(
        base_url=base_url, token=os.environ["CAPI_CREATOR_REVIEW_TOKEN"], raise_on_unexpected_status=True
    )
    reviewer = AuthenticatedClient(
        base_url=base_url, token=os.environ["CAPI_REVIEWER_TOKEN"], raise_on_unexpected_status=True
    )
    run = uuid.uuid4().hex[:12]

    subject = create_customer.sync(org_id=org, client=client, body=NewCustomer(external_id=f"{external_id}-kyc"))
    check(isinstance(subject, Customer), "a customer registered to identify")
    assert isinstance(subject, Customer)

    started = create_identification_process.sync_detailed(
        org_id=org,
        customer_id=subject.id,
        client=client,
        body=NewIdentificationProcess(
            method=IdentificationMethod.DOCUMENT, provider="conformance-kyc", provider_reference=f"py-{run}-ref-1"
        ),
    )
    check(
        started.status_code == 201 and isinstance(started.parsed, IdentificationProcess),
        "identification process created (201)",
    )
    first = started.parsed
    assert isinstance(first, IdentificationProcess)
    check(
        first.status == IdentificationStatus.CREATED
        and first.method == IdentificationMethod.DOCUMENT
        and first.provider == "conformance-kyc"
        and first.provider_reference == f"py-{run}-ref-1"
        and first.customer_id == subject.id
        and first.created_by == "conformance"
        and first.decided_at is None
        and first.decided_by is None,
        "the process parses as IdentificationProcess: created, by the token's sub, undecided",
    )
    check(
        started.headers["location"]
        == f"/v1/organizations/{org}/customers/{subject.id}/identification-processes/{first.id}",
        "Location names the process",
    )

    submitted = submit_identification_process.sync(
        org_id=org, customer_id=subject.id, process_id=first.id, client=client
    )
    check(
        isinstance(submitted, IdentificationProcess) and submitted.status == IdentificationStatus.PENDING,
        "submitted (200 pending)",
    )

    own = approve_identification_process.sync_detailed(
        org_id=org, customer_id=subject.id, process_id=first.id, client=creator_reviewer
    )
    check(
        own.status_code == 403
        and isinstance(own.parsed, ErrorResponse)
        and own.parsed.code == "forbidden"
        and "four eyes" in own.parsed.message,
        "the creator's own approval is refused (403 forbidden, four eyes)",
    )
    approved = approve_identification_process.sync_detailed(
        org_id=org, customer_id=subject.id, process_id=first.id, client=reviewer
    )
    check(
        approved.status_code == 200
        and isinstance(approved.parsed, IdentificationProcess)
        and approved.parsed.status == IdentificationStatus.APPROVED
        and approved.parsed.decided_by == "reviewer"
        and approved.parsed.decided_at is not None
        and approved.parsed.created_by == "conformance",
        "approved by a second principal (200, decided_by = reviewer)",
    )
    read = get_identification_process.sync(org_id=org, customer_id=subject.id, process_id=first.id, client=client)
    check(
        isinstance(read, IdentificationProcess)
        and read.status == IdentificationStatus.APPROVED
        and read.decided_by == "reviewer",
        "the approval read back (getIdentificationProcess)",
    )

    retried = create_identification_process.sync_detailed(
        org_id=org,
        customer_id=subject.id,
        client=client,
        body=NewIdentificationProcess(method=IdentificationMethod.VIDEO),
    )
    second = retried.parsed
    check(
        retried.status_code == 201
        and isinstance(second, IdentificationProcess)
        and second.provider is None
        and second.provider_reference is None,
        "a second process created (201), provider absent means null",
    )
    assert isinstance(second, IdentificationProcess)
    cancelled = cancel_identification_process.sync(
        org_id=org, customer_id=subject.id, process_id=second.id, client=client
    )
    check(
        isinstance(cancelled, IdentificationProcess)
        and cancelled.status == IdentificationStatus.CANCELLED
        and cancelled.decided_by is None,
        "the second process cancelled (200)",
    )
    illegal = submit_identification_process.sync_detailed(
        org_id=org, customer_id=subject.id, process_id=second.id, client=client
    )
    check(
        illegal.status_code == 409
        and isinstance(illegal.parsed, ErrorResponse)
        and illegal.parsed.code == "conflict"
        and illegal.parsed.details[0].field == "status",
        "submitting a cancelled process is 409 conflict naming status",
    )

    history = list_identification_processes.sync(org_id=org, customer_id=subject.id, client=client)
    check(
        isinstance(history, IdentificationProcessPage)
        and [(p.id, p.status) for p in history.items]
        == [(second.id, IdentificationStatus.CANCELLED), (first.id, IdentificationStatus.APPROVED)]
        and history.next_cursor is None,
        "the customer's processes listed newest first (listIdentificationProcesses)",
    )
    only_approved = list_identification_processes.sync(
        org_id=org, customer_id=subject.id, client=reviewer, status=IdentificationStatus.APPROVED
    )
    check(
        isinstance(only_approved, IdentificationProcessPage) and [p.id for p in only_approved.items] == [first.id],
        "status=approved lists the approved one only",
    )

    deleted = delete_customer.sync_detailed(org_id=org, customer_id=subject.id, client=client)
    check(deleted.status_code == 204, "a customer whose processes are all finished is deleted (204)")


if __name__ == "__main__":
    main()
