"""The HTTP API for documents: API Gateway (HTTP API) in front of the ``api`` function.

See docs/ARCHITECTURE.md, "HTTP API", and the README's "HTTP API" section for the routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.naming import FAILED, PROCESSED, STATUS
from pipeline.config import Settings
from pipeline.encryption import api_access_log_group
from pipeline.iam import upload_traces, write_own_logs
from pipeline.packaging import API_HANDLER
from pipeline.plain_function import PlainFunctionArgs, plain_function

# Greedy {key+} routes: a key's slashes may come encoded (%2F) or not, and API Gateway
# splits decoded paths on "/" before it matches a route (the handler reads rawPath).
ROUTE_KEYS = (
    "POST /documents",
    "GET /documents",
    "GET /documents/{key+}",
    "DELETE /documents/{key+}",
    "POST /documents/{key+}",  # only .../retry; the handler answers 405 for anything else
)
API_MEMORY_MB = 256
# A listing reads up to a few hundred small status documents; API Gateway gives up on an
# integration after 30 s, so the function must end well before that.
API_TIMEOUT_SECONDS = 20
INTEGRATION_TIMEOUT_MS = 30_000
# One JSON object per request in the access log (API Gateway's $context variables).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "caller": "$context.identity.userArn",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


def api_policy(
    *,
    log_group_arn: Any,
    trigger_bucket_arn: Any,
    trigger_prefix: str,
    output_bucket_arn: Any,
    state_machine_arn: Any,
) -> dict[str, Any]:
    """Returns the api function's whole permission policy (see the README's security part)."""
    originals = pulumi.Output.concat(trigger_bucket_arn, "/", trigger_prefix, "*")
    outputs = [
        pulumi.Output.concat(output_bucket_arn, f"/{prefix}/*")
        for prefix in (PROCESSED, FAILED, STATUS)
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            write_own_logs(log_group_arn),
            upload_traces(),
            {
                # A presigned PUT acts with the presigner's permissions.
                "Sid": "PresignUploads",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": originals,
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
                "Resource": output_bucket_arn,
                "Condition": {
                    "StringLike": {"s3:prefix": [f"{p}/*" for p in (PROCESSED, FAILED, STATUS)]}
                },
            },
            {
                # Only DELETE ?original=true: every version of one original.
                "Sid": "DeleteOriginalVersions",
                "Effect": "Allow",
                "Action": ["s3:DeleteObjectVersion"],
                "Resource": originals,
            },
            {
                "Sid": "ListOriginalVersions",
                "Effect": "Allow",
                "Action": ["s3:ListBucketVersions"],
                "Resource": trigger_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [f"{trigger_prefix}*"]}},
            },
            {
                "Sid": "RetryDocuments",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": state_machine_arn,
            },
        ],
    }


@dataclass(frozen=True)
class ApiArgs:
    """What the API needs from the rest of the stack.

    Attributes:
        settings: The stack's settings.
        code_archive: The functions' code archive (the api function runs it too).
        trigger_bucket_name: Where uploads go.
        trigger_bucket_arn: Its ARN.
        output_bucket_name: Where outputs, reports and statuses are.
        output_bucket_arn: Its ARN.
        state_machine_arn: The pipeline, started again by a retry.
        kms_key_arn: The stack's key (log groups, environment, S3 objects), or ``None``.
    """

    settings: Settings
    code_archive: Path
    trigger_bucket_name: pulumi.Input[str]
    trigger_bucket_arn: pulumi.Input[str]
    output_bucket_name: pulumi.Input[str]
    output_bucket_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None


class Api(pulumi.ComponentResource):
    """The HTTP API for documents.

    Creates the ``api`` function (the shared code archive, outside the VPC, no EFS, no
    layer) with its own role, one inline least-privilege policy and a log group; an API
    Gateway HTTP API with a Lambda proxy integration (payload 2.0), one route per method
    and path, each with IAM authorization (or, when the stack sets an issuer and
    audience, a JWT authorizer); a ``$default`` stage that deploys automatically, throttles
    the default route and writes JSON access logs to a log group with retention; and the
    permission that lets this API, and only it, invoke the function.

    Attributes:
        url: The API's base URL.
        routes: The routes by route key.
        function_name: The api function's name.
    """

    url: pulumi.Output[str]
    routes: dict[str, aws.apigatewayv2.Route]
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Api", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{name}-api"
        account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        function = plain_function(
            self,
            function_name,
            PlainFunctionArgs(
                settings=settings,
                code_archive=args.code_archive,
                handler=API_HANDLER,
                description="docpipe HTTP API",
                role_description="docpipe HTTP API function",
                memory_mb=API_MEMORY_MB,
                timeout_seconds=API_TIMEOUT_SECONDS,
                environment={
                    "TRIGGER_BUCKET": args.trigger_bucket_name,
                    "TRIGGER_PREFIX": settings.trigger_prefix,
                    "OUTPUT_BUCKET": args.output_bucket_name,
                    "STATE_MACHINE_ARN": args.state_machine_arn,
                    "DEFAULT_PROFILE": settings.default_profile,
                    "MAX_INPUT_BYTES": str(settings.max_input_bytes),
                },
                policy=lambda log_group_arn: api_policy(
                    log_group_arn=log_group_arn,
                    trigger_bucket_arn=args.trigger_bucket_arn,
                    trigger_prefix=settings.trigger_prefix,
                    output_bucket_arn=args.output_bucket_arn,
                    state_machine_arn=args.state_machine_arn,
                ),
                account_id=account_id,
                region=region,
                kms_key_arn=args.kms_key_arn,
            ),
        )
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=f"{name}-api",
            description="docpipe documents: upload, status, download, delete, retry",
            protocol_type="HTTP",
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-api-lambda",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child,
        )
        authorizer_id: pulumi.Input[str] | None = None
        authorization_type = "AWS_IAM"
        if settings.api_jwt_issuer:
            authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-api-jwt",
                api_id=api.id,
                name=f"{name}-jwt",
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=settings.api_jwt_issuer,
                    audiences=list(settings.api_jwt_audience),
                ),
                opts=child,
            )
            authorizer_id = authorizer.id
            authorization_type = "JWT"
        target = pulumi.Output.concat("integrations/", integration.id)
        self.routes = {
            route_key: aws.apigatewayv2.Route(
                f"{name}-api-{_slug(route_key)}",
                api_id=api.id,
                route_key=route_key,
                target=target,
                authorization_type=authorization_type,
                authorizer_id=authorizer_id,
                opts=child,
            )
            for route_key in ROUTE_KEYS
        }
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-api-access-logs",
            name=api_access_log_group(f"{name}-api"),
            retention_in_days=settings.api_access_log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        aws.apigatewayv2.Stage(
            f"{name}-api-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn,
                format=pulumi.Output.json_dumps(ACCESS_LOG_FORMAT),
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=settings.api_throttling_burst_limit,
                throttling_rate_limit=settings.api_throttling_rate_limit,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.routes.values())),
        )
        aws.lambda_.Permission(
            f"{name}-api-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            # Any stage and method of this API, only on its /documents paths.
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/*/documents*"),
            opts=child,
        )
        self.url = api.api_endpoint
        self.function_name = function.name
        self.register_outputs({"url": self.url, "functionName": self.function_name})


def _slug(route_key: str) -> str:
    method, path = route_key.split(" ", 1)
    parts = [part.strip("{}+") for part in path.strip("/").split("/")]
    return "-".join([method.lower(), *parts])
