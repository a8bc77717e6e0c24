"""Where the functions and the file system live: private subnets, no NAT gateway."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.config import Settings
from pipeline.encryption import flow_log_group
from pipeline.iam import assume_role_policy

NFS_PORT = 2049
HTTPS_PORT = 443
# Flow log records are aggregated over at most this many seconds (the cheaper choice).
FLOW_LOG_AGGREGATION_SECONDS = 600
# The S3 actions the functions use (GetObject also covers HeadObject; PutObject covers
# every step of a multipart upload but its abort). A new S3 call in the functions needs
# its action here as well as in the function's role: a test holds them together.
ENDPOINT_S3_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucket",
)
FLOW_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def endpoint_policy(bucket_arns: list[Any]) -> dict[str, Any]:
    """Returns the S3 gateway endpoint's policy: the stack's buckets and nothing else.

    Everything in the stack's VPC reaches S3 only through this endpoint, so no bucket
    outside the stack (another account's, say) can receive data from it. Nothing else
    needs S3 from inside the VPC: Lambda fetches the code and the layer, and delivers
    logs and traces, from its own service network, not through the functions' ENIs.
    The ``"*"`` principal is how an endpoint policy says "whoever the caller is"; the
    callers' own roles still decide what each may do.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheStacksBuckets",
                "Effect": "Allow",
                "Principal": "*",
                "Action": list(ENDPOINT_S3_ACTIONS),
                "Resource": [
                    resource
                    for arn in bucket_arns
                    for resource in (arn, pulumi.Output.concat(arn, "/*"))
                ],
            }
        ],
    }


def flow_log_policy(log_group_arn: Any) -> dict[str, Any]:
    """Returns the flow-log role's policy: write into its own log group only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteFlowLogs",
                "Effect": "Allow",
                "Action": list(FLOW_LOG_ACTIONS),
                "Resource": [log_group_arn, pulumi.Output.concat(log_group_arn, ":log-stream:*")],
            }
        ],
    }


def subnet_cidrs(vpc_cidr: str, count: int) -> list[str]:
    """Splits ``vpc_cidr`` into equal blocks and returns the first ``count`` of them."""
    network = ipaddress.IPv4Network(vpc_cidr)
    new_prefix = network.prefixlen + math.ceil(math.log2(count))
    return [str(block) for block in list(network.subnets(new_prefix=new_prefix))[:count]]


@dataclass(frozen=True)
class NetworkArgs:
    """What the network needs.

    Attributes:
        settings: The stack's settings.
        bucket_arns: The stack's buckets: the only ones its S3 endpoint reaches.
        kms_key_arn: The stack's key for the flow-log group, or ``None``.
    """

    settings: Settings
    bucket_arns: list[pulumi.Input[str]] = field(default_factory=list)
    kms_key_arn: pulumi.Input[str] | None = None


class Network(pulumi.ComponentResource):
    """The private network of the functions and the EFS mount targets.

    With no existing network configured, it creates a VPC with one private subnet per
    availability zone, a route table without any route to the internet (no NAT gateway,
    no internet gateway), an S3 gateway endpoint on that route table whose policy
    (:func:`endpoint_policy`) reaches the stack's buckets only, the VPC's default
    security group stripped of every rule, and flow logs of all traffic into a log group
    with the stack's retention, written by a role that may write only there. With
    ``vpcId``/``subnetIds`` set, it uses those instead (the VPC's owner runs its flow
    logs and endpoint).

    In both cases it creates the two security groups and exactly these rules:

    * Lambda SG egress: TCP 2049 to the EFS SG, TCP 443 to the S3 prefix list;
    * EFS SG ingress: TCP 2049 from the Lambda SG.

    Attributes:
        vpc_id: The VPC's id.
        subnet_ids: The private subnets, one per availability zone.
        lambda_security_group_id: The functions' security group.
        efs_security_group_id: The mount targets' security group.
        s3_prefix_list_id: The S3 prefix list the functions may reach on 443.
    """

    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    lambda_security_group_id: pulumi.Output[str]
    efs_security_group_id: pulumi.Output[str]
    s3_prefix_list_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Network", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        if settings.vpc_id is not None:
            self.vpc_id = pulumi.Output.from_input(settings.vpc_id)
            self.subnet_ids = [pulumi.Output.from_input(s) for s in settings.subnet_ids]
            # The existing subnets' route tables must already reach S3 (README); the
            # functions' security group still only lets them reach S3's addresses.
            self.s3_prefix_list_id = aws.ec2.get_prefix_list_output(
                name=pulumi.Output.concat("com.amazonaws.", region, ".s3"),
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).id
        else:
            self._create_vpc(name, args, region, child)

        lambda_sg = aws.ec2.SecurityGroup(
            f"{name}-lambda",
            vpc_id=self.vpc_id,
            description="docpipe functions: NFS to the file system, HTTPS to S3, nothing else",
            tags={"Name": f"{name}-lambda"},
            opts=child,
        )
        efs_sg = aws.ec2.SecurityGroup(
            f"{name}-efs",
            vpc_id=self.vpc_id,
            description="docpipe file system: NFS from the functions only",
            tags={"Name": f"{name}-efs"},
            opts=child,
        )
        # Separate rule resources rather than inline rules, so that the rules are exactly
        # these. The provider removes the default allow-all egress rule of a new group.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-lambda-to-efs",
            security_group_id=lambda_sg.id,
            description="NFS to the EFS mount targets",
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            referenced_security_group_id=efs_sg.id,
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-lambda-to-s3",
            security_group_id=lambda_sg.id,
            description="HTTPS to S3 through the gateway endpoint",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            prefix_list_id=self.s3_prefix_list_id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-efs-from-lambda",
            security_group_id=efs_sg.id,
            description="NFS from the docpipe functions",
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            referenced_security_group_id=lambda_sg.id,
            opts=child,
        )
        self.lambda_security_group_id = lambda_sg.id
        self.efs_security_group_id = efs_sg.id
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "subnetIds": self.subnet_ids,
                "lambdaSecurityGroupId": self.lambda_security_group_id,
                "efsSecurityGroupId": self.efs_security_group_id,
            }
        )

    def _create_vpc(
        self,
        name: str,
        args: NetworkArgs,
        region: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        settings = args.settings
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        ).names
        count = settings.availability_zones

        def zone(index: int) -> pulumi.Output[str]:
            def pick(names: list[str]) -> str:
                if len(names) < count:
                    raise ValueError(
                        f"docpipe:availabilityZones is {count}, but this region has only "
                        f"{len(names)} available zones"
                    )
                return names[index]

            return zones.apply(pick)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.vpc_cidr,
            # EFS mount targets are found by DNS name inside the VPC.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        route_table = aws.ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            tags={"Name": f"{name}-private"},
            opts=child,
        )
        subnets = []
        for index, cidr in enumerate(subnet_cidrs(settings.vpc_cidr, count)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone(index),
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            subnets.append(subnet)
        endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            policy=pulumi.Output.json_dumps(endpoint_policy(list(args.bucket_arns))),
            tags={"Name": f"{name}-s3"},
            opts=child,
        )
        # Adopts the VPC's default group and removes its rules: nothing may use it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default", vpc_id=vpc.id, tags={"Name": f"{name}-default"}, opts=child
        )
        self._flow_logs(name, args, vpc.id, region, child)
        self.vpc_id = vpc.id
        self.subnet_ids = [subnet.id for subnet in subnets]
        self.s3_prefix_list_id = endpoint.prefix_list_id

    def _flow_logs(
        self,
        name: str,
        args: NetworkArgs,
        vpc_id: pulumi.Output[str],
        region: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=flow_log_group(name),
            retention_in_days=args.settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description="docpipe VPC flow logs",
            assume_role_policy=pulumi.Output.json_dumps(
                assume_role_policy(
                    "vpc-flow-logs.amazonaws.com",
                    account_id,
                    # The flow log's own ARN exists only after it, which needs the role.
                    pulumi.Output.concat(
                        "arn:", partition, ":ec2:", region, ":", account_id, ":vpc-flow-log/*"
                    ),
                )
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(flow_log_policy(log_group.arn)),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=FLOW_LOG_AGGREGATION_SECONDS,
            tags={"Name": f"{name}-flow-logs"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
