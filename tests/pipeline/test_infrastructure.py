"""The real ``__main__.py`` under recording Pulumi mocks with the dev stack's config.

The program runs once per module; every test returns an Output of the program (so that
pulumi awaits it) whose check reads what the mocks recorded: each resource's type, name,
inputs and the dependencies Pulumi registered for it.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from pipeline.config import declared_defaults, load_stack_settings
from pipeline.definition import TRANSIENT_ERRORS
from pipeline.functions import VPC_NETWORK_INTERFACE_ACTIONS
from pipeline.iam import XRAY_ACTIONS
from pipeline.workflow_policies import LOG_DELIVERY_ACTIONS, STATES_XRAY_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "__main__.py"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
S3_PREFIX_LIST = "pl-6da54004"

FUNCTION = "aws:lambda/function:Function"
MOUNT_TARGET = "aws:efs/mountTarget:MountTarget"
ACCESS_POINT = "aws:efs/accessPoint:AccessPoint"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# Actions that only exist without resource-level permissions (see pipeline/functions.py
# and pipeline/workflow_policies.py): the only ones an identity policy may grant on "*".
STAR_RESOURCE_ACTIONS = {
    *VPC_NETWORK_INTERFACE_ACTIONS,
    *XRAY_ACTIONS,
    *LOG_DELIVERY_ACTIONS,
    *STATES_XRAY_ACTIONS,
}


@dataclass
class Recorded:
    """One resource as the program registered it."""

    typ: str
    name: str
    urn: str
    inputs: dict[str, Any]
    dependencies: set[str] = field(default_factory=set)
    protect: bool = False
    retain_on_delete: bool = False


def _arn(typ: str, name: str) -> str:
    service = typ.split(":")[1].split("/")[0]
    kind = typ.split(":")[-1]
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{kind[0].lower()}{kind[1:]}/{name}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like AWS would, closely enough for the program, and records every call."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        outputs: dict[str, Any] = {**inputs, "arn": _arn(args.typ, args.name)}
        physical = inputs.get("name") or f"{args.name}-0a1b2c3"
        outputs["name"] = physical
        if args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = physical
            outputs["arn"] = f"arn:aws:s3:::{physical}"
        elif args.typ == FUNCTION:
            outputs["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            outputs["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}"
        elif args.typ == "aws:sfn/stateMachine:StateMachine":
            outputs["arn"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{physical}"
        elif args.typ == "aws:efs/fileSystem:FileSystem":
            outputs["arn"] = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/fs-0abc"
        elif args.typ == ACCESS_POINT:
            outputs["arn"] = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0ab"
        elif args.typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            outputs["prefixListId"] = S3_PREFIX_LIST
        elif args.typ == "aws:apigatewayv2/api:Api":
            api_id = f"{args.name}-id"
            outputs["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}"
            outputs["apiEndpoint"] = f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
        elif args.typ == "aws:sqs/queue:Queue":
            outputs["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        self.calls.append(args.token)
        answers: dict[str, dict[str, Any]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": ZONES,
                "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"],
            },
            "aws:index/getRegion:getRegion": {"region": REGION, "name": REGION},
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                "userId": "AIDAEXAMPLE",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
            },
            "aws:ec2/getPrefixList:getPrefixList": {
                "id": S3_PREFIX_LIST,
                "name": f"com.amazonaws.{REGION}.s3",
            },
        }
        if args.token not in answers:
            raise AssertionError(f"the program called {args.token}, which the mocks don't know")
        return answers[args.token]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records what MockResourceArgs leaves out: dependencies and resource options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 -- gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            record = next(
                r
                for r in reversed(self.recording.resources)
                if (r.typ, r.name) == (request.type, request.name)
            )
            record.urn = response.urn
            record.dependencies = set(request.dependencies)
            record.protect = bool(request.protect)
            record.retain_on_delete = bool(request.retainOnDelete)
        return response


class _Mocks(RecordingMocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Recorded(args.typ, args.name, "", dict(args.inputs)))
        return super().new_resource(args)


def stack_config(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Returns the dev stack's config as the Pulumi CLI hands it to the program."""
    import yaml

    values: dict[str, Any] = {f"docpipe:{k}": v for k, v in declared_defaults(ROOT).items()}
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    values.update(stack)
    values.update({f"docpipe:{k}": v for k, v in (overrides or {}).items()})

    def text(value: Any) -> str:
        # The CLI passes strings as they are, everything else as JSON.
        return value if isinstance(value, str) else json.dumps(value)

    return {key: text(value) for key, value in values.items()}


@dataclass
class Program:
    """One run of ``__main__.py``: its globals and what the mocks recorded."""

    globals: dict[str, Any]
    mocks: RecordingMocks
    exports: dict[str, Any]

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.mocks.resources if r.typ == typ]

    def stage_functions(self) -> list[Recorded]:
        """The pipeline's functions (the HTTP API's function is tested in test_api.py)."""
        return [r for r in self.of_type(FUNCTION) if not r.name.endswith("-api")]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]

    def done(self) -> pulumi.Output[Any]:
        """An Output of the program that resolves once its stack outputs do."""
        return pulumi.Output.from_input(self.globals["workflow"].state_machine_arn)


def run_program(overrides: Mapping[str, Any] | None = None) -> Program:
    """Runs ``__main__.py`` under fresh mocks and waits until every resource is registered."""
    mocks = _Mocks()
    pulumi.runtime.set_mocks(
        mocks, project="docpipe", stack="dev", preview=False, monitor=RecordingMonitor(mocks)
    )
    pulumi.runtime.set_all_config(stack_config(overrides))
    result: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        result.update(runpy.run_path(str(PROGRAM), run_name="__main__"))
        return pulumi.Output.all(*(fn.arn for fn in result["functions"].functions.values()))

    run()  # pulumi.runtime.test waits for every outstanding registration
    stack = pulumi.runtime.settings.get_root_resource()
    return Program(result, mocks, dict(getattr(stack, "outputs", {})))


@pytest.fixture(scope="module")
def program() -> Iterator[Program]:
    yield run_program()
    pulumi.runtime.set_all_config({})


def _statements(policy: Any) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pulumi.runtime.test
def test_every_function_mounts_the_one_access_point_after_every_mount_target(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that each function mounts the same, only access point at
    /mnt/docpipe and that Pulumi registers it as depending on every mount target."""
    functions = program.globals["functions"].functions

    def check(values: list[Any]) -> None:
        access_point_arn, *function_arns = values
        assert len(function_arns) == 3
        access_point = program.one(ACCESS_POINT)
        mount_targets = {r.urn for r in program.of_type(MOUNT_TARGET)}
        assert len(mount_targets) == 2  # one per subnet, dev has 2 AZs
        recorded = program.stage_functions()
        assert sorted(r.name for r in recorded) == [
            "docpipe-dev-compress",
            "docpipe-dev-ingest",
            "docpipe-dev-transform",
        ]
        for function in recorded:
            assert function.inputs["fileSystemConfig"] == {
                "arn": access_point_arn,
                "localMountPath": "/mnt/docpipe",
            }
            assert mount_targets <= function.dependencies, function.name
            assert function.inputs["vpcConfig"]["subnetIds"] == [
                f"docpipe-dev-private-{i}-id" for i in range(2)
            ]
            assert function.inputs["environment"]["variables"]["EFS_MOUNT_PATH"] == "/mnt/docpipe"
        assert access_point.name == "docpipe-dev-ap"

    return pulumi.Output.all(
        program.globals["storage"].access_point_arn, *(fn.arn for fn in functions.values())
    ).apply(check)


@pulumi.runtime.test
def test_access_point_pins_user_and_root_directory(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the access point acts as 1000:1000 and roots every client
    at /docpipe, created as 1000:1000 with mode 750."""

    def check(_: Any) -> None:
        inputs = program.one(ACCESS_POINT).inputs
        assert inputs["posixUser"] == {"uid": 1000, "gid": 1000}
        assert inputs["rootDirectory"] == {
            "path": "/docpipe",
            "creationInfo": {"ownerUid": 1000, "ownerGid": 1000, "permissions": "750"},
        }
        fs = program.one("aws:efs/fileSystem:FileSystem").inputs
        assert fs["encrypted"] is True
        assert fs["throughputMode"] == "elastic"

    return program.done().apply(check)


@pulumi.runtime.test
def test_file_system_policy_denies_plain_nfs_and_other_entry_points(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the file-system policy denies non-TLS clients and clients
    not coming through the access point."""

    def check(access_point_arn: str) -> None:
        policy = program.one("aws:efs/fileSystemPolicy:FileSystemPolicy").inputs["policy"]
        statements = _statements(policy)
        assert all(s["Effect"] == "Deny" for s in statements)
        conditions = [s["Condition"] for s in statements]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {
            "StringNotEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}
        } in conditions
        for statement in statements:
            assert "elasticfilesystem:ClientMount" in statement["Action"]

    return program.globals["storage"].access_point_arn.apply(check)


@pulumi.runtime.test
def test_security_group_rules_are_exactly_nfs_and_https(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the only rules are NFS from the Lambda SG to the EFS SG and
    HTTPS from the Lambda SG to the S3 prefix list, with no inline rules anywhere."""

    def check(_: Any) -> None:
        groups = {r.name: r for r in program.of_type("aws:ec2/securityGroup:SecurityGroup")}
        assert set(groups) == {"docpipe-dev-lambda", "docpipe-dev-efs"}
        for group in groups.values():
            assert not group.inputs.get("ingress")
            assert not group.inputs.get("egress")
        lambda_sg, efs_sg = "docpipe-dev-lambda-id", "docpipe-dev-efs-id"
        egress = {
            (
                r.inputs["securityGroupId"],
                r.inputs["ipProtocol"],
                r.inputs["fromPort"],
                r.inputs["toPort"],
                r.inputs.get("referencedSecurityGroupId") or r.inputs.get("prefixListId"),
            )
            for r in program.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        }
        ingress = {
            (
                r.inputs["securityGroupId"],
                r.inputs["ipProtocol"],
                r.inputs["fromPort"],
                r.inputs["toPort"],
                r.inputs.get("referencedSecurityGroupId"),
            )
            for r in program.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        }
        assert egress == {
            (lambda_sg, "tcp", 2049, 2049, efs_sg),
            (lambda_sg, "tcp", 443, 443, S3_PREFIX_LIST),
        }
        assert ingress == {(efs_sg, "tcp", 2049, 2049, lambda_sg)}
        for rule in program.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"):
            assert "cidrIpv4" not in rule.inputs
            assert "cidrIpv6" not in rule.inputs

    return program.done().apply(check)


@pulumi.runtime.test
def test_private_network_without_nat_or_internet_gateway(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the VPC has private subnets in two zones, no NAT or internet
    gateway and no route out, and reaches S3 through a gateway endpoint."""

    def check(_: Any) -> None:
        types = {r.typ for r in program.mocks.resources}
        for forbidden in (
            "aws:ec2/natGateway:NatGateway",
            "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/eip:Eip",
            "aws:ec2/route:Route",
        ):
            assert forbidden not in types
        subnets = program.of_type("aws:ec2/subnet:Subnet")
        assert sorted(s.inputs["availabilityZone"] for s in subnets) == ZONES[:2]
        assert sorted(s.inputs["cidrBlock"] for s in subnets) == ["10.42.0.0/17", "10.42.128.0/17"]
        assert all(not s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
        assert not program.one("aws:ec2/routeTable:RouteTable").inputs.get("routes")
        endpoint = program.one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs
        assert endpoint["serviceName"] == f"com.amazonaws.{REGION}.s3"
        assert endpoint["vpcEndpointType"] == "Gateway"
        assert endpoint["routeTableIds"] == ["docpipe-dev-private-id"]

    return program.done().apply(check)


@pulumi.runtime.test
def test_iam_grants_name_concrete_arns(program: Program) -> pulumi.Output[Any]:
    """This test ensures that every identity-policy statement grants named actions on
    concrete ARNs, "*" only for the actions that have no resource-level permissions, and
    that EFS client actions are conditioned on the access point."""

    def check(access_point_arn: str) -> None:
        policies = program.of_type(ROLE_POLICY)
        # three functions, the state machine, the trigger, the flow logs, the backfill,
        # the HTTP API's function
        assert len(policies) == 8
        efs_grants = 0
        for policy in policies:
            for statement in _statements(policy.inputs["policy"]):
                assert statement["Effect"] == "Allow"
                actions = _as_list(statement["Action"])
                resources = _as_list(statement["Resource"])
                assert all("*" not in action for action in actions), (policy.name, actions)
                if resources == ["*"]:
                    assert set(actions) <= STAR_RESOURCE_ACTIONS, (policy.name, actions)
                    continue
                for resource in resources:
                    assert resource.startswith("arn:aws:"), (policy.name, resource)
                    assert resource.split(":")[5] not in ("*", ""), (policy.name, resource)
                if any(a.startswith("elasticfilesystem:") for a in actions):
                    efs_grants += 1
                    assert statement["Condition"] == {
                        "StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}
                    }
        assert efs_grants == 3

    return program.globals["storage"].access_point_arn.apply(check)


@pulumi.runtime.test
def test_each_function_gets_only_its_own_s3_access(program: Program) -> pulumi.Output[Any]:
    """This test ensures that ingest may only read the trigger bucket and the status
    documents, compress may only write and remove processed/, failed/ and status/ (and
    read the trigger bucket's current versions), and transform may only read the OCR
    models."""

    def check(values: list[str]) -> None:
        trigger_arn, output_arn, models_arn = values
        by_name = {p.name: _statements(p.inputs["policy"]) for p in program.of_type(ROLE_POLICY)}

        def s3_grants(name: str) -> dict[str, list[str]]:
            grants: dict[str, list[str]] = {}
            for statement in by_name[name]:
                for action in _as_list(statement["Action"]):
                    if action.startswith("s3:"):
                        grants.setdefault(action, []).extend(_as_list(statement["Resource"]))
            return {action: sorted(resources) for action, resources in grants.items()}

        assert s3_grants("docpipe-dev-ingest-policy") == {
            "s3:GetObject": [f"{output_arn}/status/*", f"{trigger_arn}/*"],
            "s3:GetObjectVersion": [f"{trigger_arn}/*"],
            "s3:PutObject": [f"{output_arn}/status/*"],
        }
        assert s3_grants("docpipe-dev-transform-policy") == {
            "s3:GetObject": [f"{models_arn}/models/*"]
        }
        outputs = [f"{output_arn}/failed/*", f"{output_arn}/processed/*", f"{output_arn}/status/*"]
        assert s3_grants("docpipe-dev-compress-policy") == {
            "s3:PutObject": outputs,
            "s3:DeleteObject": outputs,
            "s3:GetObject": sorted([*outputs, f"{trigger_arn}/*"]),
            "s3:ListBucket": [output_arn],
        }
        logs = [
            s["Resource"]
            for s in by_name["docpipe-dev-ingest-policy"]
            if "logs:PutLogEvents" in s["Action"]
        ]
        assert logs == [
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/docpipe-dev-ingest:log-stream:*"
        ]

    buckets = program.globals["buckets"]
    return pulumi.Output.all(
        buckets["trigger"].arn, buckets["output"].arn, buckets["models"].arn
    ).apply(check)


@pulumi.runtime.test
def test_state_machine_role_invokes_only_the_three_functions(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the state machine may invoke exactly the three functions
    (and their versions) and the trigger may only start that state machine."""
    functions = program.globals["functions"].functions

    def check(values: list[str]) -> None:
        state_machine_arn, *function_arns = values
        by_name = {p.name: _statements(p.inputs["policy"]) for p in program.of_type(ROLE_POLICY)}
        invoke = [
            s for s in by_name["docpipe-dev-policy"] if s["Action"] == ["lambda:InvokeFunction"]
        ]
        assert len(invoke) == 1
        assert sorted(invoke[0]["Resource"]) == sorted(
            [*function_arns, *(f"{arn}:*" for arn in function_arns)]
        )
        assert by_name["docpipe-dev-trigger-policy"] == [
            {
                "Sid": "StartThePipeline",
                "Effect": "Allow",
                "Action": ["states:StartExecution"],
                "Resource": state_machine_arn,
            }
        ]

    return pulumi.Output.all(
        program.globals["workflow"].state_machine_arn, *(fn.arn for fn in functions.values())
    ).apply(check)


STAGES = ("Ingest", "Transform", "Compress")


def _check_asl(definition: dict[str, Any]) -> None:
    """Checks the structure the States Language requires (what Step Functions validates)."""
    states = definition["States"]
    assert definition["StartAt"] in states
    known = {"Task", "Choice", "Pass", "Succeed", "Fail", "Wait", "Parallel", "Map"}
    reachable, pending = set(), [definition["StartAt"]]
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        assert state["Type"] in known, name
        targets = [state["Next"]] if "Next" in state else []
        targets += [c["Next"] for c in state.get("Catch", [])]
        targets += [c["Next"] for c in state.get("Choices", [])]
        targets += [state["Default"]] if "Default" in state else []
        terminal = state["Type"] in ("Succeed", "Fail") or state.get("End") is True
        assert terminal != ("Next" in state) or state["Type"] == "Choice", name
        for target in targets:
            assert target in states, f"{name} -> {target}"
        pending.extend(targets)
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"


@pulumi.runtime.test
def test_state_machine_definition_is_the_pipeline(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the deployed definition is valid ASL, names all three
    functions, retries the transient Lambda/EFS errors and catches every stage."""
    functions = program.globals["functions"].functions

    def check(values: list[str]) -> None:
        ingest, transform, compress = values
        machine = _machine(program, "docpipe-dev").inputs
        assert machine["type"] == "STANDARD"
        assert machine["tracingConfiguration"] == {"enabled": True}
        assert machine["loggingConfiguration"]["level"] == "ALL"
        definition = json.loads(machine["definition"])
        _check_asl(definition)
        assert definition["TimeoutSeconds"] == 24 * 3600  # executionTimeoutHours' default
        states = definition["States"]
        assert states["Ingest"]["Parameters"]["FunctionName"] == ingest
        assert states["Transform"]["Parameters"]["FunctionName"] == transform
        assert states["Compress"]["Parameters"]["FunctionName"] == compress
        assert states["ReportFailure"]["Parameters"]["FunctionName"] == compress
        for stage in ("Ingest", "Transform", "Compress"):
            assert states[stage]["TimeoutSeconds"] == 360  # dev: 300 s function + 60
            retry = states[stage]["Retry"]
            transient = next(r for r in retry if "Lambda.ServiceException" in r["ErrorEquals"])
            assert set(transient["ErrorEquals"]) == set(TRANSIENT_ERRORS)
            assert transient["JitterStrategy"] == "FULL"
            assert states[stage]["Catch"][0]["ErrorEquals"] == ["States.ALL"]
            assert states[stage]["Catch"][0]["Next"] == f"{stage}Failed"

    return pulumi.Output.all(
        *(functions[s].arn for s in ("ingest", "transform", "compress"))
    ).apply(check)


def _machine(program: Program, name: str) -> Recorded:
    machines = program.of_type("aws:sfn/stateMachine:StateMachine")
    return next(machine for machine in machines if machine.inputs["name"] == name)


@pulumi.runtime.test
def test_backfill_maps_the_trigger_bucket_with_exactly_the_grants_it_needs(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the backfill state machine lists the trigger bucket with a
    Distributed Map of Express batches about as wide as backfillMaxConcurrency, runs the
    deployed functions for each document of a batch (handing large objects to the
    deployed pipeline), writes its results to the output bucket, and that its role may do
    exactly that: start its own map run, invoke the three functions, start the pipeline,
    list the trigger bucket and write under backfill/."""
    functions = program.globals["functions"].functions

    def check(values: list[str]) -> None:
        pipeline_arn, trigger, output, *function_arns = values
        machine = _machine(program, "docpipe-dev-backfill").inputs
        assert machine["type"] == "STANDARD"
        definition = json.loads(machine["definition"])
        _check_asl(definition)
        documents = definition["States"][definition["StartAt"]]
        assert documents["ItemReader"]["Parameters"]["Bucket"] == trigger
        assert documents["ItemSelector"]["bucket"] == trigger
        assert documents["ResultWriter"]["Parameters"]["Bucket"] == output
        assert documents["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "EXPRESS"
        # backfillMaxConcurrency 10, two per batch of backfillBatchSize 6: five batches.
        assert (documents["MaxConcurrency"], documents["ItemBatcher"]["MaxItemsPerBatch"]) == (
            5,
            6,
        )
        batch = documents["ItemProcessor"]["States"]["Batch"]["ItemProcessor"]
        _check_asl(batch)
        tasks = batch["States"]
        assert [tasks[s]["Parameters"]["FunctionName"] for s in STAGES] == function_arns
        assert tasks["Handoff"]["Parameters"]["StateMachineArn"] == pipeline_arn
        policy = next(p for p in program.of_type(ROLE_POLICY) if p.name.endswith("backfill-policy"))
        grants = {
            statement["Sid"]: (sorted(statement["Action"]), statement["Resource"])
            for statement in _statements(policy.inputs["policy"])
        }
        states = f"arn:aws:states:{REGION}:{ACCOUNT}"
        assert grants == {
            "RunTheMap": (
                ["states:StartExecution"],
                [f"{states}:stateMachine:docpipe-dev-backfill"],
            ),
            "WatchTheMap": (
                ["states:DescribeExecution", "states:StopExecution"],
                [f"{states}:execution:docpipe-dev-backfill/*"],
            ),
            "InvokeThePipelineFunctions": (
                ["lambda:InvokeFunction"],
                [a for arn in function_arns for a in (arn, f"{arn}:*")],
            ),
            "StartThePipeline": (["states:StartExecution"], [pipeline_arn]),
            "ListTheObjects": (["s3:ListBucket"], [f"arn:aws:s3:::{trigger}"]),
            "WriteTheResults": (
                [
                    "s3:AbortMultipartUpload",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                [f"arn:aws:s3:::{output}/backfill/*"],
            ),
            "DeliverLogs": (sorted(LOG_DELIVERY_ACTIONS), "*"),
        }
        assert "backfillStateMachineArn" in program.exports

    buckets = program.globals["buckets"]
    return pulumi.Output.all(
        program.globals["workflow"].state_machine_arn,
        buckets["trigger"].name,
        buckets["output"].name,
        *(functions[s].arn for s in ("ingest", "transform", "compress")),
    ).apply(check)


@pulumi.runtime.test
def test_trigger_rule_maps_events_and_has_a_dead_letter_queue(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the trigger rule matches the trigger bucket's new objects,
    transforms them into the execution input, retries and dead-letters failed deliveries,
    and that only that rule may write to the dead-letter queue."""
    from pipeline.trigger import INPUT_PATHS, INPUT_TEMPLATE

    def check(values: list[str]) -> None:
        trigger_bucket, state_machine_arn = values
        rules = {r.name: r.inputs for r in program.of_type("aws:cloudwatch/eventRule:EventRule")}
        assert json.loads(rules["docpipe-dev-trigger"]["eventPattern"]) == {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [trigger_bucket]}},
        }
        assert rules["docpipe-dev-sweep"]["scheduleExpression"] == "rate(1 hour)"
        targets = {
            r.name: r.inputs for r in program.of_type("aws:cloudwatch/eventTarget:EventTarget")
        }
        target = targets["docpipe-dev-trigger-target"]
        assert target["arn"] == state_machine_arn
        assert target["inputTransformer"] == {
            "inputPaths": INPUT_PATHS,
            "inputTemplate": INPUT_TEMPLATE,
        }
        assert target["retryPolicy"]["maximumRetryAttempts"] > 0
        queue_arn = target["deadLetterConfig"]["arn"]
        queues = {q.name: q.inputs for q in program.of_type("aws:sqs/queue:Queue")}
        assert queues["docpipe-dev-trigger-dlq"]["sqsManagedSseEnabled"] is True
        queue_policy = next(
            _statements(p.inputs["policy"])
            for p in program.of_type("aws:sqs/queuePolicy:QueuePolicy")
            if p.name == "docpipe-dev-trigger-dlq-policy"
        )
        allow = [s for s in queue_policy if s["Effect"] == "Allow"]
        assert allow == [
            {
                "Sid": "TriggerRuleDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": _arn(
                            "aws:cloudwatch/eventRule:EventRule", "docpipe-dev-trigger"
                        )
                    }
                },
            }
        ]
        sweep = targets["docpipe-dev-sweep-target"]
        assert json.loads(sweep["input"]) == {"action": "sweep"}
        permission = next(
            p.inputs
            for p in program.of_type("aws:lambda/permission:Permission")
            if p.name == "docpipe-dev-sweep-invoke"
        )
        assert permission["principal"] == "events.amazonaws.com"
        assert permission["function"] == "docpipe-dev-compress"
        assert (
            program.one("aws:s3/bucketNotification:BucketNotification").inputs["eventbridge"]
            is True
        )

    return pulumi.Output.all(
        program.globals["buckets"]["trigger"].name, program.globals["workflow"].state_machine_arn
    ).apply(check)


@pulumi.runtime.test
def test_buckets_are_private_encrypted_versioned_and_tls_only(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that every bucket blocks all public access, encrypt, version,
    expire noncurrent versions, refuse non-TLS requests, and (dev is not protected) may
    be destroyed with their objects."""

    def check(arns: list[str]) -> None:
        blocks = program.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert len(blocks) == 4  # trigger, output, OCR models, access logs
        for block in blocks:
            for setting in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            ):
                assert block.inputs[setting] is True
        policies = program.of_type("aws:s3/bucketPolicy:BucketPolicy")
        denied = set()
        for policy in policies:
            if "access-logs" in policy.name:
                continue  # test_security.py checks the access-log bucket
            (statement,) = _statements(policy.inputs["policy"])
            assert statement["Effect"] == "Deny"
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            denied.update(statement["Resource"])
        assert denied == {resource for arn in arns for resource in (arn, f"{arn}/*")}
        for versioning in program.of_type("aws:s3/bucketVersioning:BucketVersioning"):
            assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
        for encryption in program.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        ):
            (rule,) = encryption.inputs["rules"]
            assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
        for lifecycle in program.of_type(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        ):
            (rule,) = lifecycle.inputs["rules"]
            assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
        buckets = program.of_type("aws:s3/bucket:Bucket")
        assert len(buckets) == 4  # trigger, output, OCR models, access logs
        assert all(b.inputs["forceDestroy"] is True for b in buckets)

    buckets = program.globals["buckets"]
    return pulumi.Output.all(
        buckets["trigger"].arn, buckets["output"].arn, buckets["models"].arn
    ).apply(check)


@pulumi.runtime.test
def test_functions_log_json_trace_and_use_the_layer(program: Program) -> pulumi.Output[Any]:
    """This test ensures that each function logs JSON to its own log group with the
    configured retention, is traced, has its reserved concurrency and memory, and runs
    the configured runtime and architecture with the packages layer."""
    settings = load_stack_settings("dev", ROOT)

    def check(output_bucket: str) -> None:
        groups = {
            r.inputs["name"]: r.inputs for r in program.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        layer = program.one("aws:lambda/layerVersion:LayerVersion").inputs
        assert layer["compatibleArchitectures"] == ["arm64"]
        assert layer["compatibleRuntimes"] == ["python3.12"]
        for function in program.stage_functions():
            inputs = function.inputs
            stage = function.name.rsplit("-", 1)[1]
            group = f"/aws/lambda/{function.name}"
            assert groups[group]["retentionInDays"] == 14
            assert inputs["loggingConfig"]["logFormat"] == "JSON"
            assert inputs["loggingConfig"]["logGroup"] == group
            assert inputs["tracingConfig"] == {"mode": "Active"}
            # The dev stack reserves none, so that a fresh account can deploy it.
            assert inputs["reservedConcurrentExecutions"] == -1
            assert inputs["memorySize"] == settings.memory_mb[stage]
            assert inputs["timeout"] == 300
            assert inputs["runtime"] == "python3.12"
            assert inputs["architectures"] == ["arm64"]
            assert inputs["handler"] == f"functions.{stage}.handler"
            assert len(inputs["layers"]) == 1
            assert len(inputs["sourceCodeHash"]) == 64
            assert inputs["environment"]["variables"]["OUTPUT_BUCKET"] == output_bucket

    return program.globals["buckets"]["output"].name.apply(check)


@pulumi.runtime.test
def test_alarms_reach_an_encrypted_topic(program: Program) -> pulumi.Output[Any]:
    """This test ensures that documents failed with a paged code, timed-out executions,
    each function's throttles, and EFS storage growth alarm to an encrypted SNS topic (no
    e-mail in dev)."""

    def check(_: Any) -> None:
        alarms = program.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        metrics = sorted((a.inputs["namespace"], a.inputs["metricName"]) for a in alarms)
        assert metrics == sorted(
            [
                *[("docpipe", "Documents")] * 3,
                ("AWS/States", "ExecutionsTimedOut"),
                *[("AWS/Lambda", "Throttles")] * 3,
                ("AWS/EFS", "StorageBytes"),
                *[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] * 2,
            ]
        )
        topic = program.one("aws:sns/topic:Topic")
        topic_arn = _arn(topic.typ, topic.name)
        assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
        for alarm in alarms:
            assert alarm.inputs["alarmActions"] == [topic_arn]
        storage = next(a for a in alarms if a.inputs["metricName"] == "StorageBytes")
        assert storage.inputs["threshold"] == 5 * 1024**3
        assert not program.of_type("aws:sns/topicSubscription:TopicSubscription")

    return program.done().apply(check)


@pulumi.runtime.test
def test_ocr_models_are_uploaded_and_provisioned_by_transform(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the stack uploads the eng and orientation models with their
    checksums to the private models bucket and invokes transform's provision_models
    action with exactly those objects, after they exist."""
    g = program.globals
    objects = program.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    invocation = program.one("aws:lambda/invocation:Invocation")

    def check(values: list[Any]) -> None:
        bucket, transform = values
        keys = {o.inputs["key"]: o.inputs["metadata"]["sha256"] for o in objects}
        assert set(keys) == {
            "models/tesseract/eng.traineddata",
            "models/tesseract/osd.traineddata",
        }
        assert all(o.inputs["bucket"] == bucket for o in objects)
        assert all(len(sha) == 64 for sha in keys.values())
        assert invocation.inputs["functionName"] == transform
        request = json.loads(invocation.inputs["input"])
        assert request["action"] == "provision_models"
        assert request["bucket"] == bucket
        assert {m["key"]: m["sha256"] for m in request["models"]} == keys
        assert {o.urn for o in objects} <= invocation.dependencies

    return pulumi.Output.all(g["buckets"]["models"].name, g["functions"].names["transform"]).apply(
        check
    )


@pulumi.runtime.test
def test_long_scans_fan_out_through_a_map_state(program: Program) -> pulumi.Output[Any]:
    """This test ensures that pages left to OCR go through a Map state bounded by
    ocrMaxConcurrency, each item an ocr action of transform, then a merge into Compress,
    with retries and the failure path of the transform stage."""
    functions = program.globals["functions"].functions

    def check(transform: str) -> None:
        machine = _machine(program, "docpipe-dev").inputs
        states = json.loads(machine["definition"])["States"]
        assert states["Transform"]["Next"] == "NeedsOcr"
        choice = states["NeedsOcr"]
        assert choice["Choices"] == [{"Variable": "$.ocr", "IsPresent": True, "Next": "Ocr"}]
        assert choice["Default"] == "Compress"
        fan_out = states["Ocr"]
        assert fan_out["Type"] == "Map"
        assert fan_out["ItemsPath"] == "$.ocr"
        assert fan_out["MaxConcurrency"] == 10
        assert fan_out["ItemSelector"]["action"] == "ocr"
        inner = fan_out["ItemProcessor"]["States"]["OcrPages"]
        assert inner["Parameters"]["FunctionName"] == transform
        retried = [set(retry["ErrorEquals"]) for retry in inner["Retry"]]
        assert set(TRANSIENT_ERRORS) in retried
        assert {"Lambda.TooManyRequestsException"} in retried
        assert fan_out["Catch"][0]["Next"] == "TransformFailed"
        merge = states["OcrMerge"]
        assert merge["Parameters"]["FunctionName"] == transform
        assert merge["Parameters"]["Payload"]["action"] == "ocr_merge"
        assert merge["Next"] == "Compress"
        assert merge["Catch"][0]["Next"] == "TransformFailed"

    return functions["transform"].arn.apply(check)


@pulumi.runtime.test
def test_stack_exports(program: Program) -> pulumi.Output[Any]:
    """This test ensures that the stack exports the outputs the README's "Outputs" section
    lists, with the values of the resources they name."""
    g = program.globals
    expected = {
        "triggerBucket": g["buckets"]["trigger"].name,
        "outputBucket": g["buckets"]["output"].name,
        "stateMachineArn": g["workflow"].state_machine_arn,
        "fileSystemId": g["storage"].file_system_id,
        "accessPointArn": g["storage"].access_point_arn,
        "ingestFunction": g["functions"].names["ingest"],
        "transformFunction": g["functions"].names["transform"],
        "compressFunction": g["functions"].names["compress"],
    }
    assert set(expected) <= set(program.exports)

    def check(values: list[Any]) -> None:
        exported, wanted = values[: len(expected)], values[len(expected) :]
        assert exported == wanted
        assert exported[5:] == [
            "docpipe-dev-ingest",
            "docpipe-dev-transform",
            "docpipe-dev-compress",
        ]

    return pulumi.Output.all(*(program.exports[key] for key in expected), *expected.values()).apply(
        check
    )


@pytest.fixture(scope="module")
def protected_program() -> Iterator[Program]:
    yield run_program(
        {
            "vpcId": "vpc-0123456789abcdef0",
            "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "protect": True,
            "alarmEmail": "ops@example.com",
            "triggerPrefix": "inbox/",
            "mountPath": "/mnt/work",
        }
    )
    pulumi.runtime.set_all_config({})


@pulumi.runtime.test
def test_existing_network_protected_stack(protected_program: Program) -> pulumi.Output[Any]:
    """This test ensures that a stack naming an existing VPC creates no network of its
    own but still its two security groups, that a protected stack keeps its buckets and
    file system, and that the prefix, mount path and e-mail settings take effect."""
    program = protected_program

    def check(trigger_arn: str) -> None:
        types = {r.typ for r in program.mocks.resources}
        for created_only_in_own_vpc in (
            "aws:ec2/vpc:Vpc",
            "aws:ec2/subnet:Subnet",
            "aws:ec2/vpcEndpoint:VpcEndpoint",
        ):
            assert created_only_in_own_vpc not in types
        assert len(program.of_type("aws:ec2/securityGroup:SecurityGroup")) == 2
        targets = program.of_type(MOUNT_TARGET)
        assert sorted(t.inputs["subnetId"] for t in targets) == [
            "subnet-0123456789abcdef0",
            "subnet-0123456789abcdef1",
        ]
        assert "aws:ec2/getPrefixList:getPrefixList" in program.mocks.calls
        assert all(
            b.inputs["forceDestroy"] is False for b in program.of_type("aws:s3/bucket:Bucket")
        )
        fs = program.one("aws:efs/fileSystem:FileSystem")
        assert fs.protect
        assert fs.retain_on_delete
        for function in program.stage_functions():
            assert function.inputs["fileSystemConfig"]["localMountPath"] == "/mnt/work"
            assert function.inputs["environment"]["variables"]["EFS_MOUNT_PATH"] == "/mnt/work"
        ingest = next(p for p in program.of_type(ROLE_POLICY) if p.name.endswith("ingest-policy"))
        reads = [s for s in _statements(ingest.inputs["policy"]) if s.get("Sid") == "ReadSources"]
        assert reads[0]["Resource"] == f"{trigger_arn}/inbox/*"
        rule = next(
            r
            for r in program.of_type("aws:cloudwatch/eventRule:EventRule")
            if r.name.endswith("trigger")
        )
        assert json.loads(rule.inputs["eventPattern"])["detail"]["object"] == {
            "key": [{"prefix": "inbox/"}]
        }
        subscription = program.one("aws:sns/topicSubscription:TopicSubscription").inputs
        assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")

    return program.globals["buckets"]["trigger"].arn.apply(check)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"mountPath": "/data"}, "docpipe:mountPath"),
        ({"availabilityZones": 1}, "docpipe:availabilityZones"),
        ({"defaultProfile": "tiny"}, "docpipe:defaultProfile"),
        ({"maxPages": -1}, "docpipe:maxPages"),
        ({"vpcId": "vpc-0123456789abcdef0"}, "docpipe:subnetIds"),
    ],
)
def test_invalid_config_stops_the_program_naming_the_key(
    overrides: dict[str, Any], key: str
) -> None:
    """This test ensures that the program stops before creating any resource when a
    setting is unusable, with a message naming the key."""
    with pytest.raises(ValueError, match=key) as raised:
        run_program(overrides)
    pulumi.runtime.set_all_config({})
    assert key in str(raised.value)
