"""The HTTP API's infrastructure: the real ``__main__.py`` under recording Pulumi mocks.

Routes and their authorization (IAM by default, JWT when configured), the Lambda
integration and its invoke permission, the stage's access logs and throttling, and the
api function's role, statement by statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from pipeline.api import ACCESS_LOG_FORMAT, ROUTE_KEYS
from pipeline.config import parse_settings
from pipeline.iam import XRAY_ACTIONS
from pipeline.packaging import API_HANDLER
from tests.pipeline.test_infrastructure import ACCOUNT, REGION, Program, run_program

ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
API = "aws:apigatewayv2/api:Api"
FUNCTION = "aws:lambda/function:Function"
ISSUER = "https://login.example.com/tenant/v2.0"


@pytest.fixture(scope="module")
def program() -> Iterator[Program]:
    yield run_program(
        {
            "triggerPrefix": "inbox/",
            "apiThrottlingBurstLimit": 20,
            "apiThrottlingRateLimit": 10,
            "apiAccessLogRetentionDays": 90,
        }
    )
    pulumi.runtime.set_all_config({})


@pytest.fixture(scope="module")
def jwt_program() -> Iterator[Program]:
    yield run_program({"apiJwtIssuer": ISSUER, "apiJwtAudience": ["docpipe-web", "docpipe-cli"]})
    pulumi.runtime.set_all_config({})


def _api_id(program: Program) -> str:
    return f"{program.one(API).name}-id"


@pulumi.runtime.test
def test_every_route_requires_iam_and_targets_the_one_integration(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the API has exactly the document routes, each with AWS_IAM
    authorization and the one Lambda proxy integration, and no authorizer."""

    def check(_: Any) -> None:
        api = program.one(API).inputs
        assert api["protocolType"] == "HTTP"
        integration = program.one(INTEGRATION)
        routes = program.of_type(ROUTE)
        assert sorted(r.inputs["routeKey"] for r in routes) == sorted(ROUTE_KEYS)
        assert sorted(ROUTE_KEYS) == sorted(
            [
                "POST /documents",
                "GET /documents",
                "GET /documents/{key+}",
                "DELETE /documents/{key+}",
                "POST /documents/{key+}",
            ]
        )
        for route in routes:
            assert route.inputs["authorizationType"] == "AWS_IAM", route.name
            assert "authorizerId" not in route.inputs, route.name
            assert route.inputs["apiId"] == _api_id(program)
            assert route.inputs["target"] == f"integrations/{integration.name}-id"
        assert not program.of_type(AUTHORIZER)

    return program.done().apply(check)


@pulumi.runtime.test
def test_a_jwt_issuer_puts_a_jwt_authorizer_on_every_route(
    jwt_program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that a stack with an issuer and audiences gets one JWT
    authorizer reading the Authorization header, and that every route uses it."""

    def check(_: Any) -> None:
        authorizer = jwt_program.one(AUTHORIZER)
        assert authorizer.inputs["authorizerType"] == "JWT"
        assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
        assert authorizer.inputs["jwtConfiguration"] == {
            "issuer": ISSUER,
            "audiences": ["docpipe-web", "docpipe-cli"],
        }
        routes = jwt_program.of_type(ROUTE)
        assert len(routes) == len(ROUTE_KEYS)
        for route in routes:
            assert route.inputs["authorizationType"] == "JWT", route.name
            assert route.inputs["authorizerId"] == f"{authorizer.name}-id", route.name

    return jwt_program.done().apply(check)


@pulumi.runtime.test
def test_integration_and_invoke_permission_are_scoped_to_this_api(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the integration is a payload 2.0 Lambda proxy to the api
    function, and that only this API's /documents routes may invoke the function."""

    def check(_: Any) -> None:
        function = next(f for f in program.of_type(FUNCTION) if f.name == "docpipe-dev-api")
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:docpipe-dev-api"
        integration = program.one(INTEGRATION).inputs
        assert integration["integrationType"] == "AWS_PROXY"
        assert integration["integrationMethod"] == "POST"
        assert integration["payloadFormatVersion"] == "2.0"
        assert integration["integrationUri"] == function_arn
        assert integration["timeoutMilliseconds"] == 30_000
        assert function.inputs["timeout"] < 30
        permission = next(
            p.inputs
            for p in program.of_type("aws:lambda/permission:Permission")
            if p.name == "docpipe-dev-api-invoke"
        )
        assert permission == {
            "action": "lambda:InvokeFunction",
            "function": "docpipe-dev-api",
            "principal": "apigateway.amazonaws.com",
            "sourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{_api_id(program)}"
            "/*/*/documents*",
        }

    return program.done().apply(check)


@pulumi.runtime.test
def test_stage_logs_json_with_retention_and_throttles(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the $default stage deploys automatically, writes JSON access
    logs to its own log group with the configured retention, and throttles the default
    route at the configured burst and rate."""

    def check(_: Any) -> None:
        stage = program.one(STAGE).inputs
        assert stage["name"] == "$default"
        assert stage["autoDeploy"] is True
        groups = {r.inputs["name"]: r for r in program.of_type("aws:cloudwatch/logGroup:LogGroup")}
        access = groups["/aws/apigateway/docpipe-dev-api"]
        assert access.inputs["retentionInDays"] == 90
        settings = stage["accessLogSettings"]
        assert settings["destinationArn"] == (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/docpipe-dev-api"
        )
        fields = json.loads(settings["format"])
        assert fields == ACCESS_LOG_FORMAT
        assert {"requestId", "status", "routeKey", "caller", "integrationError"} <= set(fields)
        assert all(value.startswith("$context.") for value in fields.values())
        assert stage["defaultRouteSettings"] == {
            "throttlingBurstLimit": 20,
            "throttlingRateLimit": 10,
        }
        assert groups["/aws/lambda/docpipe-dev-api"].inputs["retentionInDays"] == 14

    return program.done().apply(check)


@pulumi.runtime.test
def test_api_function_runs_the_shared_archive_outside_the_vpc(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the api function runs the same code archive as the stages,
    with its own handler, outside the VPC, without EFS or the layer, traced, logging JSON,
    and with the environment its settings read."""
    g = program.globals

    def check(values: list[str]) -> None:
        trigger, output, machine = values
        functions = {f.name: f.inputs for f in program.of_type(FUNCTION)}
        api = functions["docpipe-dev-api"]
        assert api["handler"] == API_HANDLER
        assert api["sourceCodeHash"] == functions["docpipe-dev-ingest"]["sourceCodeHash"]
        for absent in ("vpcConfig", "fileSystemConfig", "layers"):
            assert absent not in api, absent
        assert api["tracingConfig"] == {"mode": "Active"}
        assert api["loggingConfig"]["logFormat"] == "JSON"
        assert api["environment"]["variables"] == {
            "TRIGGER_BUCKET": trigger,
            "TRIGGER_PREFIX": "inbox/",
            "OUTPUT_BUCKET": output,
            "STATE_MACHINE_ARN": machine,
            "DEFAULT_PROFILE": "ebook",
            "MAX_INPUT_BYTES": "536870912",
        }

    return pulumi.Output.all(
        g["buckets"]["trigger"].name, g["buckets"]["output"].name, g["workflow"].state_machine_arn
    ).apply(check)


@pulumi.runtime.test
def test_api_role_has_exactly_its_statements(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the api function's policy is exactly: its own logs, X-Ray,
    presigned uploads under the trigger prefix, read and delete of processed/, failed/ and
    status/, listing those prefixes, deleting and listing versions of originals under the
    prefix, and starting the one state machine."""
    g = program.globals

    def check(values: list[str]) -> None:
        trigger, output, machine = values
        policy = next(
            p
            for p in program.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.name == "docpipe-dev-api-policy"
        )
        document = json.loads(policy.inputs["policy"])
        outputs = [f"{output}/processed/*", f"{output}/failed/*", f"{output}/status/*"]
        log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/docpipe-dev-api"
        assert document["Statement"] == [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group}:log-stream:*",
            },
            {
                "Sid": "UploadTraces",
                "Effect": "Allow",
                "Action": list(XRAY_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "PresignUploads",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": f"{trigger}/inbox/*",
            },
            {
                "Sid": "ReadResultsReportsAndStatus",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": outputs,
            },
            {
                "Sid": "DeleteResultsReportsAndStatus",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": outputs,
            },
            {
                "Sid": "ListStatusesAndOutputs",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": output,
                "Condition": {"StringLike": {"s3:prefix": ["processed/*", "failed/*", "status/*"]}},
            },
            {
                "Sid": "DeleteOriginalVersions",
                "Effect": "Allow",
                "Action": ["s3:DeleteObjectVersion"],
                "Resource": f"{trigger}/inbox/*",
            },
            {
                "Sid": "ListOriginalVersions",
                "Effect": "Allow",
                "Action": ["s3:ListBucketVersions"],
                "Resource": trigger,
                "Condition": {"StringLike": {"s3:prefix": ["inbox/*"]}},
            },
            {
                "Sid": "RetryDocuments",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": machine,
            },
        ]
        role = next(
            r for r in program.of_type("aws:iam/role:Role") if r.name == "docpipe-dev-api-role"
        )
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ]

    return pulumi.Output.all(
        g["buckets"]["trigger"].arn, g["buckets"]["output"].arn, g["workflow"].state_machine_arn
    ).apply(check)


@pulumi.runtime.test
def test_stack_exports_the_api_url(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the stack exports apiUrl, the API's endpoint."""

    def check(url: str) -> None:
        assert url == f"https://{_api_id(program)}.execute-api.{REGION}.amazonaws.com"

    return pulumi.Output.from_input(program.exports["apiUrl"]).apply(check)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"apiJwtIssuer": ISSUER}, "apiJwtAudience must be set together"),
        ({"apiJwtAudience": ["web"]}, "apiJwtIssuer and docpipe:apiJwtAudience"),
        ({"apiJwtIssuer": "http://login.example.com", "apiJwtAudience": ["web"]}, "https://"),
        ({"apiThrottlingBurstLimit": 0}, "docpipe:apiThrottlingBurstLimit must be at least 1"),
        ({"apiThrottlingRateLimit": "fast"}, "docpipe:apiThrottlingRateLimit must be a whole"),
        ({"apiAccessLogRetentionDays": 10}, "docpipe:apiAccessLogRetentionDays must be one of"),
    ],
)
def test_api_settings_are_validated(values: dict[str, Any], message: str) -> None:
    """This test ensures that unusable API settings stop the program naming the key."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_settings(values)
