"""Schemathesis against a live `potluck serve` (tests/conftest.py, `live_potluck`): every
operation of /api/v1/openapi.json, every check schemathesis ships, every phase (examples,
coverage, fuzzing, then the stateful phase chaining operations), signed in as two users who
must not see each other's private objects, with a fixed seed and bounded examples.

The run goes through schemathesis's engine (what `st run` drives) once per session; each
check then has its own test, failing with the distinct failures it found: the operation, a
curl command that reproduces it and what the server answered. Where a check disagrees with
a deliberate behaviour, the fix is to describe the behaviour in the document, never to turn
the check off.

Run with `-rP` to see the run's summary (operations, cases per phase, failures)."""

from __future__ import annotations

import http.client
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks in CHECKS
from conftest import LIVE_PASSWORD, LivePotluck
from schemathesis.checks import CHECKS
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

SEED = 20260101
MAX_EXAMPLES = 50
STATEFUL_MAX_STEPS = 10
PEERS = ("chef", "sous")
# Every check the installed schemathesis registers, so a new one is run (and tested) too.
CHECK_NAMES = sorted(CHECKS.get_all_names())
UNIT_PHASES = ("examples", "coverage", "fuzzing")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Formats OpenAPI 3.0 defines, and the JSON Schema ones validators check.
KNOWN_FORMATS = {
    "int32", "int64", "float", "double", "byte", "binary", "date", "date-time", "password",
    "email", "idn-email", "hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "uuid",
}  # fmt: skip


@dataclass
class Finding:
    check: str
    phase: str
    failure: Failure
    curl: str
    answer: str


@dataclass
class RunReport:
    """What one engine run saw: findings per check, how often each check ran, cases."""

    operations: set[str] = field(default_factory=set)
    tested: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    cases: Counter[str] = field(default_factory=Counter)
    checks_run: Counter[str] = field(default_factory=Counter)
    findings: dict[str, dict[Failure, Finding]] = field(default_factory=lambda: defaultdict(dict))
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return sum(len(found) for found in self.findings.values())

    def summary(self) -> str:
        lines = [
            f"schemathesis {schemathesis.__version__}, seed {SEED}, "
            f"{MAX_EXAMPLES} examples, {STATEFUL_MAX_STEPS} stateful steps: "
            f"{len(self.operations)} operations, {sum(self.cases.values())} cases "
            f"({', '.join(f'{phase} {count}' for phase, count in sorted(self.cases.items()))}), "
            f"{self.failures} distinct failures, {len(self.errors)} errors, "
            f"in {self.seconds:.0f} s"
        ]
        lines += [f"  {name}: {self.checks_run[name]} runs" for name in CHECK_NAMES]
        return "\n".join(lines)


def _answer(recorder: ScenarioRecorder, case_id: str) -> str:
    interaction = recorder.interactions.get(case_id)
    if interaction is None or interaction.response is None:
        return "no response"
    response = interaction.response
    content_type = ", ".join(response.headers.get("content-type", ["(no Content-Type)"]))
    body = response.content[:400].decode("utf-8", "replace")
    return f"{response.status_code} {content_type} {body}"


def _record(report: RunReport, event: events.ScenarioFinished) -> None:
    phase = event.phase.value
    recorder = event.recorder
    report.cases[phase] += len(recorder.cases)
    if event.skip_reason and phase != "examples":  # the document gives no examples
        report.skipped.append(f"{phase} {recorder.label}: {event.skip_reason}")
    elif phase in UNIT_PHASES:
        report.tested[phase].add(recorder.label)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            report.checks_run[check.name] += 1
            info = check.failure_info
            if info is None or info.failure in report.findings[check.name]:
                continue
            report.findings[check.name][info.failure] = Finding(
                check.name, phase, info.failure, info.code_sample, _answer(recorder, case_id)
            )


VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


# Headers that frame the message itself. Drawn as arbitrary extra headers (an empty
# Transfer-Encoding, say), they make a request the HTTP server refuses before any app code
# runs (RFC 9112, 6.1: a bare 400, and the connection closed): not the API's answer to judge.
FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length", "host", "connection"})


def _before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    # A valid key drawn twice ("!" is a favourite) with the same body is a retry, and is
    # answered with the first answer by contract, even if what it created is gone since; a
    # well-behaved client draws a fresh one for each new request. Invalid keys stay as drawn.
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None and VALID_KEY.match(key):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
        del case.headers[name]


# Data the document calls valid that the server refuses on purpose, and no OpenAPI 3.0
# schema can rule out; each answer is declared in the operation's responses. Everywhere: a
# made-up If-Match is not the current ETag (412); bytes that are not an image are refused by
# content (415); an Idempotency-Key drawn again for another body is a misuse (422).
ACCEPTED_VALID_DATA = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", "412", "415", "422"]
# Rules across fields or on state, per operation (a 400 naming the field).
RULES_BEYOND_THE_DOCUMENT = {
    # `page` with `cursor`, or a cursor this server did not sign.
    ("GET", "/api/v1/recipes"): ["400"],
    ("GET", "/api/v1/users/{username}/recipes"): ["400"],
    # `expires_at` must lie in the future.
    ("POST", "/api/v1/me/api-keys"): ["400"],
    # A refresh_token this server did not sign.
    ("DELETE", "/api/v1/tokens"): ["400"],
    # An address this server does not fetch (400), a page without a recipe (422), a remote
    # answer it cannot use (502): made-up URLs are all three.
    ("POST", "/api/v1/recipes/import"): ["400", "502"],
}


def _wfc_document(base_path: Path) -> Path:
    """The two accounts as a Web Fuzzing Commons auth file: each logs in with POST /tokens."""
    entries = [
        {
            "name": name,
            "loginEndpointAuth": {
                "endpoint": "/api/v1/tokens",
                "verb": "POST",
                "contentType": "application/json",
                "payloadUserPwd": {
                    "username": name,
                    "usernameField": "username",
                    "password": LIVE_PASSWORD,
                    "passwordField": "password",
                },
                "token": {
                    "extractFrom": "body",
                    "extractSelector": "/access_token",
                    "sendIn": "header",
                    "sendName": "Authorization",
                    "sendTemplate": "Bearer {token}",
                },
            },
        }
        for name in PEERS
    ]
    path = base_path / "wfc-auth.json"
    path.write_text(json.dumps({"auth": entries}))
    return path


def run_schemathesis(live: LivePotluck, workdir: Path) -> RunReport:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Nothing written into the repository: no failure cache, no example database.
            "cache": {"enabled": False},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": ACCEPTED_VALID_DATA},
            },
            "operations": [
                {
                    "include-path": path,
                    "include-method": method,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*ACCEPTED_VALID_DATA, *statuses]
                        }
                    },
                }
                for (method, path), statuses in RULES_BEYOND_THE_DOCUMENT.items()
            ],
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_MAX_STEPS},
            },
            "auth": {"wfc": {"path": str(_wfc_document(workdir)), "peers": list(PEERS)}},
            "request-timeout": 30,
            "workers": 1,
        }
    )
    schema = schemathesis.openapi.from_url(f"{live.base_url}/api/v1/openapi.json", config=config)

    report = RunReport()
    report.operations = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    hook = schemathesis.hook("before_call")(_before_call)
    try:
        events_ = list(from_schema(schema).execute())
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(hook)
    for event in events_:
        if isinstance(event, events.ScenarioFinished):
            _record(report, event)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            report.seconds = event.running_time
            for failure in event.failures:
                report.findings["after_run"][failure] = Finding(
                    "after_run", "after run", failure, "", ""
                )
    return report


@pytest.fixture(scope="module")
def schemathesis_run(
    live_potluck: LivePotluck, tmp_path_factory: pytest.TempPathFactory
) -> RunReport:
    return run_schemathesis(live_potluck, tmp_path_factory.mktemp("schemathesis"))


def _server_exceptions(log_path: Path) -> list[str]:
    """The distinct exception lines the server logged (what a 500 hid from the client)."""
    pattern = re.compile(r"^[A-Za-z_.]*(Error|Exception)\b.*")
    return sorted({line for line in log_path.read_text().splitlines() if pattern.match(line)})


def _described(findings: dict[Failure, Finding]) -> str:
    blocks = []
    for finding in sorted(findings.values(), key=lambda f: (f.failure.operation, f.phase)):
        message = "\n    ".join(finding.failure.message.strip().splitlines()[:12])
        # A stateful failure's sample is the whole chain of requests, one per line.
        requests = "\n      ".join(line[:600] for line in finding.curl.splitlines())
        blocks.append(
            f"- {finding.failure.operation} [{finding.phase}] {finding.failure.title}\n"
            f"    {message}\n"
            f"    requests:\n      {requests}\n"
            f"    answer: {finding.answer}"
        )
    return "\n".join(blocks)


def test_every_operation_goes_through_every_phase(schemathesis_run: RunReport) -> None:
    print(schemathesis_run.summary())
    assert len(schemathesis_run.operations) >= 30, schemathesis_run.operations
    assert not schemathesis_run.errors, "\n".join(schemathesis_run.errors)
    assert not schemathesis_run.skipped, "\n".join(schemathesis_run.skipped)
    for phase in ("coverage", "fuzzing"):
        missing = schemathesis_run.operations - schemathesis_run.tested[phase]
        assert not missing, f"{phase} did not test: {sorted(missing)}"
    # The stateful phase chains operations through links (declared or inferred).
    assert schemathesis_run.cases["stateful"] > 0, schemathesis_run.summary()


@pytest.mark.parametrize("check", CHECK_NAMES)
def test_schemathesis_check_finds_nothing(
    schemathesis_run: RunReport, live_potluck: LivePotluck, check: str
) -> None:
    ran = schemathesis_run.checks_run[check]
    assert ran, f"{check} never ran\n{schemathesis_run.summary()}"
    findings = schemathesis_run.findings.get(check, {})
    message = f"{check}: {len(findings)} distinct failures\n{_described(findings)}"
    if check == "not_a_server_error" and findings:
        message += "\nserver log:\n" + "\n".join(_server_exceptions(live_potluck.log_path))
    assert not findings, message


def test_no_failure_after_the_run(schemathesis_run: RunReport) -> None:
    findings = schemathesis_run.findings.get("after_run", {})
    assert not findings, _described(findings)


# The document itself: what schemathesis needs from it to generate and check faithfully.


@pytest.fixture(scope="module")
def document(live_potluck: LivePotluck) -> dict[str, Any]:
    address = urlsplit(live_potluck.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", "/api/v1/openapi.json")
        answer = connection.getresponse()
        assert answer.status == 200
        loaded: dict[str, Any] = json.load(answer)
    finally:
        connection.close()
    return loaded


def _resolved(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        section, name = item["$ref"].split("/")[-2:]
        item = document["components"][section][name]
    return item


def _schemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in the document that has a `format` or `properties` or `items`."""
    if isinstance(node, dict):
        if {"format", "properties", "items"} & node.keys():
            yield path, node
        for key, value in node.items():
            yield from _schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{path}/{index}")


def _request_bodies(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                label = f"{method.upper()} {path} {media_type}"
                yield label, _resolved(document, content["schema"])


def test_every_format_is_one_validators_know(document: dict[str, Any]) -> None:
    unknown = {
        path: schema["format"]
        for path, schema in _schemas(document)
        if isinstance(schema.get("format"), str) and schema["format"] not in KNOWN_FORMATS
    }
    assert not unknown, unknown


def test_every_request_field_declares_its_type(document: dict[str, Any]) -> None:
    # A field without a type takes anything, so no value of it is ever invalid to a client.
    def untyped(schema: dict[str, Any]) -> bool:
        schema = _resolved(document, schema)
        alternatives = [*schema.get("oneOf", []), *schema.get("anyOf", [])]
        if alternatives:
            return any(untyped(alternative) for alternative in alternatives)
        if "type" not in schema and "enum" not in schema and "allOf" not in schema:
            return True
        return schema.get("type") == "array" and untyped(schema.get("items", {}))

    found = [
        f"{label}: {name}"
        for label, body in _request_bodies(document)
        for name, field_schema in body.get("properties", {}).items()
        if untyped(field_schema)
    ]
    assert not found, found


def test_every_creation_links_to_what_it_created(document: dict[str, Any]) -> None:
    # Links let a client (and the stateful phase) go from a 201 to the new resource.
    unlinked = [
        f"POST {path}"
        for path, item in document["paths"].items()
        if "201" in item.get("post", {}).get("responses", {})
        and not _resolved(document, item["post"]["responses"]["201"]).get("links")
    ]
    assert not unlinked, unlinked


@pytest.mark.parametrize(
    "problem",
    [
        {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No recipe."},
        {"type": "about:blank", "title": "Bad Request", "status": 400, "errors": {"q": ["No."]}},
        {"title": "Internal Server Error", "status": 500, "request_id": "5f0c"},
        {"title": "Too Many Requests", "status": 429, "retry_after": 30},
    ],
    ids=["404", "400", "500 with request_id", "429 with an extension member"],
)
def test_the_problem_schema_admits_what_errors_carry(
    document: dict[str, Any], problem: dict[str, Any]
) -> None:
    schema = document["components"]["schemas"]["Problem"]
    errors = [error.message for error in jsonschema.Draft4Validator(schema).iter_errors(problem)]
    assert not errors, errors
