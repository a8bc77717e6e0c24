"""The security baseline, control by control, under the same recording Pulumi mocks.

Each test names the Security Hub (AWS Foundational Security Best Practices) controls it
holds the stack to; the README's "Security" table says how each is met.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from pipeline.network import ENDPOINT_S3_ACTIONS
from tests.pipeline.test_infrastructure import (
    ACCOUNT,
    FUNCTION,
    REGION,
    ROLE_POLICY,
    STAR_RESOURCE_ACTIONS,
    Program,
    run_program,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
RESOURCE_POLICIES = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:efs/fileSystemPolicy:FileSystemPolicy": "policy",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "policy",
    KEY: "policy",
}
# The documented exceptions to "no wildcard action in an Allow": the account's standard
# administration statement in a key policy (README, Security).
WILDCARD_ALLOWS = {(KEY, "AccountAdministersTheKey")}
# The one Allow to "whoever calls": the S3 endpoint policy, which only narrows what
# callers' own roles may reach (pipeline/network.py).
ANYONE_ALLOWS = {("aws:ec2/vpcEndpoint:VpcEndpoint", "OnlyTheStacksBuckets")}
FUNCTION_POLICIES = {f"docpipe-dev-{stage}-policy" for stage in ("ingest", "transform", "compress")}
SOURCE_KEYS = ("aws:SourceArn", "aws:SourceAccount", "kms:EncryptionContext:aws:logs:arn")
EXISTING_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


@pytest.fixture(scope="module", params=["direct", "queued"])
def program(request: pytest.FixtureRequest) -> Iterator[Program]:
    """The dev stack, with each way uploads reach the pipeline."""
    yield run_program({"uploads": request.param})
    pulumi.runtime.set_all_config({})


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _conditions(statement: dict[str, Any]) -> dict[str, Any]:
    """Flattens a statement's conditions to {key: value}, whatever the operator."""
    return {
        key: value
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
    }


def _by_name(program: Program, typ: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in program.of_type(typ)}


@pulumi.runtime.test
def test_vpc_flow_logs_go_to_a_retained_log_group_through_a_scoped_role(
    program: Program,
) -> pulumi.Output[Any]:
    """EC2.6: this test ensures that the stack's VPC logs all traffic to its own log group
    with the stack's retention, written by a role that only VPC Flow Logs of this account
    may assume and that may write only into that group."""

    def check(_: Any) -> None:
        flow_log = program.one("aws:ec2/flowLog:FlowLog").inputs
        assert flow_log["vpcId"] == "docpipe-dev-vpc-id"
        assert flow_log["trafficType"] == "ALL"
        assert flow_log["logDestinationType"] == "cloud-watch-logs"
        groups = _by_name(program, LOG_GROUP)
        group = groups["docpipe-dev-flow-logs"]
        assert group["retentionInDays"] == 14
        group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group['name']}"
        assert flow_log["logDestination"] == group_arn
        role = _by_name(program, ROLE)["docpipe-dev-flow-logs-role"]
        (trust,) = _statements(role["assumeRolePolicy"])
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert _conditions(trust) == {
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*",
        }
        (grant,) = _statements(
            _by_name(program, ROLE_POLICY)["docpipe-dev-flow-logs-policy"]["policy"]
        )
        assert sorted(grant["Resource"]) == sorted([group_arn, f"{group_arn}:log-stream:*"])

    return program.done().apply(check)


@pulumi.runtime.test
def test_default_security_group_has_no_rules(program: Program) -> pulumi.Output[Any]:
    """EC2.2: this test ensures that the stack adopts its VPC's default security group and
    leaves it without a single rule (the provider then removes AWS's default ones)."""

    def check(_: Any) -> None:
        default = program.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
        assert default["vpcId"] == "docpipe-dev-vpc-id"
        assert not default.get("ingress")
        assert not default.get("egress")

    return program.done().apply(check)


@pulumi.runtime.test
def test_both_buckets_log_access_into_a_private_expiring_log_bucket(
    program: Program,
) -> pulumi.Output[Any]:
    """S3.9: this test ensures that the trigger, output and models buckets deliver server
    access logs to the access-log bucket, under a prefix each, that the log bucket is private,
    TLS-only, owner-enforced, versioned and expires logs after the stack's retention, does
    not log into itself, and lets S3's log delivery write only for those buckets of this
    account."""
    g = program.globals

    def check(values: list[str]) -> None:
        trigger, output, models, trigger_arn, output_arn, models_arn, log_name, log_arn = values
        logging = {
            r.inputs["bucket"]: r.inputs
            for r in program.of_type("aws:s3/bucketLogging:BucketLogging")
        }
        assert set(logging) == {trigger, output, models}
        assert logging[trigger]["targetBucket"] == log_name
        assert logging[trigger]["targetPrefix"] == "trigger/"
        assert logging[output]["targetPrefix"] == "output/"
        assert logging[models]["targetPrefix"] == "models/"
        ownership = _by_name(program, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        assert ownership["docpipe-dev-access-logs-ownership"]["rule"] == {
            "objectOwnership": "BucketOwnerEnforced"
        }
        block = _by_name(program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[
            "docpipe-dev-access-logs-public-access"
        ]
        assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy"))
        assert all(block[k] is True for k in ("ignorePublicAcls", "restrictPublicBuckets"))
        lifecycle = _by_name(
            program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        )["docpipe-dev-access-logs-lifecycle"]
        (rule,) = lifecycle["rules"]
        assert rule["expiration"] == {"days": 14}
        policy = _by_name(program, "aws:s3/bucketPolicy:BucketPolicy")[
            "docpipe-dev-access-logs-policy"
        ]["policy"]
        deny, delivery = _statements(policy)
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [log_arn, f"{log_arn}/*"]
        assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        assert delivery["Action"] == "s3:PutObject"
        assert delivery["Resource"] == f"{log_arn}/*"
        assert _conditions(delivery) == {
            "aws:SourceArn": [trigger_arn, output_arn, models_arn],
            "aws:SourceAccount": ACCOUNT,
        }

    buckets, logs = g["buckets"], g["access_logs"]
    return pulumi.Output.all(
        *(buckets[role].name for role in ("trigger", "output", "models")),
        *(buckets[role].arn for role in ("trigger", "output", "models")),
        logs.name,
        logs.arn,
    ).apply(check)


@pulumi.runtime.test
def test_every_bucket_blocks_public_access_versions_expires_and_refuses_plain_http(
    program: Program,
) -> pulumi.Output[Any]:
    """S3.1/S3.2/S3.3/S3.8 (public access blocked on every bucket), S3.5 (TLS only), S3.12
    (no ACLs), S3.13/S3.10 (lifecycle), S3.14 (versioning): this test ensures that each of
    the four buckets has all of them."""

    def check(_: Any) -> None:
        buckets = [r.name for r in program.of_type("aws:s3/bucket:Bucket")]
        assert sorted(buckets) == [
            "docpipe-dev-access-logs",
            "docpipe-dev-models",
            "docpipe-dev-output",
            "docpipe-dev-trigger",
        ]
        for bucket in buckets:
            block = _by_name(program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[
                f"{bucket}-public-access"
            ]
            assert {k: block[k] for k in block if k != "bucket"} == {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            }
            ownership = _by_name(program, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
            assert ownership[f"{bucket}-ownership"]["rule"]["objectOwnership"] == (
                "BucketOwnerEnforced"
            )
            versioning = _by_name(program, "aws:s3/bucketVersioning:BucketVersioning")
            assert versioning[f"{bucket}-versioning"]["versioningConfiguration"] == {
                "status": "Enabled"
            }
            lifecycle = _by_name(
                program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
            )[f"{bucket}-lifecycle"]
            assert lifecycle["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
            policy = _by_name(program, "aws:s3/bucketPolicy:BucketPolicy")[f"{bucket}-policy"]
            assert {"Bool": {"aws:SecureTransport": "false"}} in [
                s.get("Condition") for s in _statements(policy["policy"]) if s["Effect"] == "Deny"
            ]
        assert not program.of_type("aws:s3/bucketAcl:BucketAcl")

    return program.done().apply(check)


@pulumi.runtime.test
def test_s3_endpoint_reaches_only_the_stacks_buckets(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the S3 gateway endpoint's policy allows the stack's data and
    models buckets and nothing else, and every S3 action a function's role grants (so a new S3
    call in a function cannot pass its role and then be refused by the endpoint)."""
    buckets = program.globals["buckets"]

    def check(arns: list[str]) -> None:
        endpoint = program.one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs
        (statement,) = _statements(endpoint["policy"])
        assert statement["Effect"] == "Allow"
        assert sorted(statement["Resource"]) == sorted(
            [resource for arn in arns for resource in (arn, f"{arn}/*")]
        )
        # The functions reach S3 through the endpoint; Step Functions (the backfill's map
        # run) does not run in the VPC.
        granted = {
            action
            for policy in program.of_type(ROLE_POLICY)
            if policy.name in FUNCTION_POLICIES
            for s in _statements(policy.inputs["policy"])
            for action in _as_list(s["Action"])
            if action.startswith("s3:")
        }
        assert granted
        assert granted <= set(statement["Action"]) == set(ENDPOINT_S3_ACTIONS)

    return pulumi.Output.all(
        *(buckets[role].arn for role in ("trigger", "output", "models"))
    ).apply(check)


@pulumi.runtime.test
def test_every_trust_policy_names_its_account_and_resource(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that every role's trust policy lets its service assume it only on
    behalf of this account (aws:SourceAccount) and, where the service documents it, of the
    one resource that uses it (aws:SourceArn): the state machine, the trigger rule, the flow
    log. Lambda documents only aws:SourceAccount for execution roles."""
    g = program.globals

    def check(values: list[str]) -> None:
        (state_machine_arn,) = values
        trigger_rule = next(
            r
            for r in program.of_type("aws:cloudwatch/eventRule:EventRule")
            if r.name == "docpipe-dev-trigger"
        )
        rule_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:eventRule/{trigger_rule.name}"
        expected = {
            "docpipe-dev-ingest-role": ("lambda.amazonaws.com", None),
            "docpipe-dev-transform-role": ("lambda.amazonaws.com", None),
            "docpipe-dev-compress-role": ("lambda.amazonaws.com", None),
            "docpipe-dev-api-role": ("lambda.amazonaws.com", None),
            "docpipe-dev-role": ("states.amazonaws.com", state_machine_arn),
            "docpipe-dev-trigger-role": ("events.amazonaws.com", rule_arn),
            "docpipe-dev-backfill-role": (
                "states.amazonaws.com",
                f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:docpipe-dev-backfill",
            ),
            "docpipe-dev-flow-logs-role": (
                "vpc-flow-logs.amazonaws.com",
                f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/fl-0123456789abcdef0",
            ),
        }
        if g["workflow"].uploads is not None:  # queued uploads: the rule needs no role
            del expected["docpipe-dev-trigger-role"]
            expected["docpipe-dev-dispatch-role"] = ("lambda.amazonaws.com", None)
            expected["docpipe-dev-uploads-role"] = (
                "states.amazonaws.com",
                f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:docpipe-dev-uploads",
            )
        roles = _by_name(program, ROLE)
        assert set(roles) == set(expected)
        for name, role in roles.items():
            service, resource = expected[name]
            for statement in _statements(role["assumeRolePolicy"]):
                assert statement["Principal"] == {"Service": service}, name
                assert statement["Action"] == "sts:AssumeRole", name
                conditions = statement["Condition"]
                assert conditions["StringEquals"] == {"aws:SourceAccount": ACCOUNT}, name
                if resource is None:
                    assert "ArnLike" not in conditions, name
                    continue
                pattern = conditions["ArnLike"]["aws:SourceArn"]
                assert fnmatch.fnmatchcase(resource, pattern), (name, pattern)

    return pulumi.Output.all(g["workflow"].state_machine_arn).apply(check)


def _documents(program: Program) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yields (resource type, resource name, statement) for every policy the stack holds."""
    for policy in program.of_type(ROLE_POLICY):
        for statement in _statements(policy.inputs["policy"]):
            yield ROLE_POLICY, policy.name, statement
    for typ, field in RESOURCE_POLICIES.items():
        for resource in program.of_type(typ):
            if field in resource.inputs:
                for statement in _statements(resource.inputs[field]):
                    yield typ, resource.name, statement


def _walk_statements(program: Program) -> int:
    seen = 0
    for typ, name, statement in _documents(program):
        seen += 1
        where = (typ, name, statement.get("Sid"))
        actions = _as_list(statement["Action"])
        assert "*" not in actions, where
        wildcard = [a for a in actions if "*" in a]
        allow = statement["Effect"] == "Allow"
        if wildcard and allow:
            assert (typ, statement.get("Sid")) in WILDCARD_ALLOWS, where
        if not allow:
            continue
        principal = statement.get("Principal")
        if typ == ROLE_POLICY:
            resources = _as_list(statement["Resource"])
            if resources == ["*"]:
                assert set(actions) <= STAR_RESOURCE_ACTIONS, where
            else:
                for resource in resources:
                    assert resource.startswith("arn:aws:"), where
                    assert resource.split(":")[5] not in ("*", ""), where
        elif principal in ("*", {"AWS": "*"}):
            assert (typ, statement.get("Sid")) in ANYONE_ALLOWS, where
        elif isinstance(principal, dict) and "Service" in principal:
            assert any(key in _conditions(statement) for key in SOURCE_KEYS), where
    return seen


@pulumi.runtime.test
def test_every_iam_statement_is_scoped(program: Program) -> pulumi.Output[Any]:
    """This test ensures that no statement in any identity, bucket, queue, file-system,
    endpoint or key policy grants a bare "*" action, that wildcard actions appear only in
    Denies and the documented key-administration statement, that identity policies name
    ARNs (but for the actions with no resource-level permissions), and that every grant
    to an AWS service is tied to this stack's account or resources."""

    def check(_: Any) -> None:
        assert _walk_statements(program) > 20

    return program.done().apply(check)


@pulumi.runtime.test
def test_functions_meet_the_lambda_controls(program: Program) -> pulumi.Output[Any]:
    """Lambda.1 (no public invoke), Lambda.2 (supported runtime), Lambda.3 (in a VPC),
    Lambda.5 (more than one AZ), Lambda.7 (X-Ray active tracing): this test ensures that
    each function meets them (the HTTP API's function, outside the VPC, is the documented
    Lambda.3 exception), and that the asynchronous sweep has a failure destination."""

    def check(_: Any) -> None:
        zones = {
            f"{s.name}-id": s.inputs["availabilityZone"]
            for s in program.of_type("aws:ec2/subnet:Subnet")
        }
        for function in program.of_type(FUNCTION):
            inputs = function.inputs
            assert inputs["runtime"] in ("python3.12", "python3.13")
            assert inputs["tracingConfig"] == {"mode": "Active"}
            if function.name in ("docpipe-dev-api", "docpipe-dev-dispatch"):
                # The documented Lambda.3 exceptions: the HTTP API's and the queued
                # uploads' functions need no EFS and no private network, only S3, SQS and
                # Step Functions' public endpoints.
                assert "vpcConfig" not in inputs
                continue
            subnets = inputs["vpcConfig"]["subnetIds"]
            assert len({zones[s] for s in subnets}) >= 2, function.name
            assert inputs["vpcConfig"]["securityGroupIds"]
        permissions = {
            p.inputs["principal"]: p.inputs
            for p in program.of_type("aws:lambda/permission:Permission")
        }
        assert set(permissions) == {"events.amazonaws.com", "apigateway.amazonaws.com"}
        sweep = permissions["events.amazonaws.com"]
        assert sweep["sourceArn"].startswith(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:")
        api = permissions["apigateway.amazonaws.com"]
        assert api["sourceArn"].startswith(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:")
        invoke = program.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
        assert invoke.inputs["functionName"] == "docpipe-dev-compress"
        queue = _by_name(program, QUEUE)["docpipe-dev-sweep-failures"]
        assert queue["sqsManagedSseEnabled"] is True
        destination = invoke.inputs["destinationConfig"]["onFailure"]["destination"]
        assert destination == f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue/docpipe-dev-sweep-failures"
        compress = _statements(
            _by_name(program, ROLE_POLICY)["docpipe-dev-compress-policy"]["policy"]
        )
        sends = [s for s in compress if s["Action"] == ["sqs:SendMessage"]]
        assert [s["Resource"] for s in sends] == [destination]

    return program.done().apply(check)


@pulumi.runtime.test
def test_file_system_state_machine_queues_topic_and_logs_meet_their_controls(
    program: Program,
) -> pulumi.Output[Any]:
    """EFS.1/EFS.8 (encrypted), EFS.3/EFS.4 (access point pins root and user), EFS.6 (no
    public subnet), StepFunctions.1 (logging), SQS.1 (queues encrypted), SNS.1 (topic
    encrypted with KMS), KMS.4 (rotation), CloudWatch.16 (every log group has the stack's
    retention): this test ensures that the dev stack meets them."""

    def check(_: Any) -> None:
        fs = program.one("aws:efs/fileSystem:FileSystem").inputs
        assert fs["encrypted"] is True
        ap = program.one("aws:efs/accessPoint:AccessPoint").inputs
        assert ap["rootDirectory"]["path"] != "/"
        assert ap["posixUser"]["uid"] == 1000
        assert not any(
            s.inputs.get("mapPublicIpOnLaunch") for s in program.of_type("aws:ec2/subnet:Subnet")
        )
        machines = _by_name(program, "aws:sfn/stateMachine:StateMachine")
        assert machines["docpipe-dev-state-machine"]["loggingConfiguration"]["level"] == "ALL"
        backfill = machines["docpipe-dev-backfill-state-machine"]["loggingConfiguration"]
        assert backfill["level"] == "ERROR"
        for queue in program.of_type(QUEUE):
            assert queue.inputs.get("sqsManagedSseEnabled") or queue.inputs.get("kmsMasterKeyId")
        topic = program.one("aws:sns/topic:Topic").inputs
        assert (
            topic["kmsMasterKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/docpipe-dev-alarms-key"
        )
        (key,) = program.of_type(KEY)  # aws-managed: only the topic's own key
        assert key.inputs["enableKeyRotation"] is True
        groups = program.of_type(LOG_GROUP)
        # four functions, two state machines, the flow logs, the HTTP API's access logs;
        # queued uploads add the dispatch function and the uploads state machine
        assert len(groups) == (8 if program.globals["workflow"].uploads is None else 10)
        assert {g.inputs["retentionInDays"] for g in groups} == {14}
        assert not any(g.inputs.get("kmsKeyId") for g in groups)

    return program.done().apply(check)


@pytest.fixture(scope="module")
def keyed_program() -> Iterator[Program]:
    yield run_program({"kmsKey": "stack", "efsBackups": True})
    pulumi.runtime.set_all_config({})


def _encrypted_with(program: Program) -> dict[str, Any]:
    """Returns, for every resource that can name a key, the key it names."""
    named: dict[str, Any] = {}
    named["file system"] = program.one("aws:efs/fileSystem:FileSystem").inputs.get("kmsKeyId")
    for encryption in program.of_type(BUCKET_ENCRYPTION):
        (rule,) = encryption.inputs["rules"]
        by_default = rule["applyServerSideEncryptionByDefault"]
        named[encryption.name] = by_default.get("kmsMasterKeyId")
        assert by_default["sseAlgorithm"] == "aws:kms", encryption.name
        assert rule["bucketKeyEnabled"] is True, encryption.name
    for group in program.of_type(LOG_GROUP):
        named[group.name] = group.inputs.get("kmsKeyId")
    for queue in program.of_type(QUEUE):
        named[queue.name] = queue.inputs.get("kmsMasterKeyId")
        assert "sqsManagedSseEnabled" not in queue.inputs, queue.name
    named["topic"] = program.one("aws:sns/topic:Topic").inputs.get("kmsMasterKeyId")
    for function in program.of_type(FUNCTION):
        named[function.name] = function.inputs.get("kmsKeyArn")
    return named


@pulumi.runtime.test
def test_stack_key_encrypts_every_encrypted_resource(
    keyed_program: Program,
) -> pulumi.Output[Any]:
    """S3.17, EFS.1, KMS.4: this test ensures that with kmsKey: stack one rotated key is
    created and named by the file system, the four buckets, the eight log groups, both
    queues, the alarm topic and the four functions' environments."""
    program = keyed_program

    def check(_: Any) -> None:
        (key,) = program.of_type(KEY)
        assert key.name == "docpipe-dev-key"
        assert key.inputs["enableKeyRotation"] is True
        key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/docpipe-dev-key"
        named = _encrypted_with(program)
        assert len(named) == 1 + 4 + 8 + 2 + 1 + 4
        assert {name: arn for name, arn in named.items() if arn != key_arn} == {}
        alias = program.one("aws:kms/alias:Alias").inputs
        assert alias["name"] == "alias/docpipe-dev"
        backup = program.one("aws:efs/backupPolicy:BackupPolicy").inputs
        assert backup["backupPolicy"] == {"status": "ENABLED"}  # EFS.2, EFS.7

    return keyed_program.done().apply(check)


@pulumi.runtime.test
def test_stack_key_policy_grants_exactly_the_services_that_need_it(
    keyed_program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the stack key's policy lets the account administer it, lets
    CloudWatch Logs use it only for the stack's log groups, and lets CloudWatch alarms,
    EventBridge and S3 log delivery use it only for this account's resources of this
    stack, with nothing else granted."""
    program = keyed_program

    def check(_: Any) -> None:
        (key,) = program.of_type(KEY)
        statements = {s["Sid"]: s for s in _statements(key.inputs["policy"])}
        assert set(statements) == {
            "AccountAdministersTheKey",
            "CloudWatchLogsEncryptTheStacksLogGroups",
            "CloudWatchAlarmsPublish",
            "EventBridgeDeadLetters",
            "S3ServerAccessLogDelivery",
        }
        assert statements["AccountAdministersTheKey"]["Principal"] == {
            "AWS": f"arn:aws:iam::{ACCOUNT}:root"
        }
        logs = statements["CloudWatchLogsEncryptTheStacksLogGroups"]
        assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
        patterns = _conditions(logs)["kms:EncryptionContext:aws:logs:arn"]
        for group in program.of_type(LOG_GROUP):
            arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group.inputs['name']}"
            assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), arn
        assert not any(
            fnmatch.fnmatchcase(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other", p)
            for p in patterns
        )
        services = {
            "CloudWatchAlarmsPublish": "cloudwatch.amazonaws.com",
            "EventBridgeDeadLetters": "events.amazonaws.com",
            "S3ServerAccessLogDelivery": "logging.s3.amazonaws.com",
        }
        for sid, service in services.items():
            statement = statements[sid]
            assert statement["Principal"] == {"Service": service}
            conditions = _conditions(statement)
            assert conditions["aws:SourceAccount"] == ACCOUNT
            assert "docpipe-dev-" in conditions["aws:SourceArn"]
            assert not any(a.endswith("*") for a in _as_list(statement["Action"]))
        assert _walk_statements(program) > 20
        # The topic uses the stack key: no separate alarm key.
        assert not program.of_type("aws:kms/alias:Alias")[1:]

    return keyed_program.done().apply(check)


@pulumi.runtime.test
def test_functions_may_use_the_stack_key_only_through_their_services(
    keyed_program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that with a stack key each function may decrypt its own
    environment, ingest may encrypt and decrypt through S3 (it reads sources and writes the
    key's status), compress through S3 and SQS, and transform only reads (the OCR models)."""
    program = keyed_program
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/docpipe-dev-key"

    def check(_: Any) -> None:
        policies = _by_name(program, ROLE_POLICY)
        expected = {
            "ingest": (["kms:Decrypt", "kms:GenerateDataKey"], ["s3"]),
            "transform": (["kms:Decrypt"], ["s3"]),
            "compress": (["kms:Decrypt", "kms:GenerateDataKey"], ["s3", "sqs"]),
        }
        for stage, through in expected.items():
            statements = _statements(policies[f"docpipe-dev-{stage}-policy"]["policy"])
            kms = {s["Sid"]: s for s in statements if s["Action"][0].startswith("kms:")}
            own = kms.pop("DecryptOwnEnvironment")
            assert own["Resource"] == key_arn
            assert _conditions(own) == {
                "kms:EncryptionContext:LambdaFunctionName": f"docpipe-dev-{stage}"
            }
            if through is None:
                assert kms == {}
                continue
            actions, services = through
            (via,) = kms.values()
            assert via["Resource"] == key_arn
            assert via["Action"] == actions
            assert _conditions(via)["kms:ViaService"] == [
                f"{service}.{REGION}.amazonaws.com" for service in services
            ]

    return keyed_program.done().apply(check)


@pytest.fixture(scope="module")
def existing_key_program() -> Iterator[Program]:
    yield run_program({"kmsKey": EXISTING_KEY})
    pulumi.runtime.set_all_config({})


@pulumi.runtime.test
def test_an_existing_key_is_used_everywhere_and_none_is_created(
    existing_key_program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that with kmsKey set to a key ARN, every encrypted resource names
    that key and the stack creates no key of its own."""
    program = existing_key_program

    def check(_: Any) -> None:
        assert not program.of_type(KEY)
        named = _encrypted_with(program)
        assert {name: arn for name, arn in named.items() if arn != EXISTING_KEY} == {}

    return existing_key_program.done().apply(check)
