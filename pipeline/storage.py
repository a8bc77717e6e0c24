"""The shared workspace: one encrypted EFS file system and exactly one access point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from pipeline.config import Settings
from pipeline.iam import deny_without_tls

# The identity every function acts as on the file system, and the directory it sees as /.
POSIX_UID = 1000
POSIX_GID = 1000
ROOT_DIRECTORY = "/docpipe"
ROOT_PERMISSIONS = "750"
# Every action an NFS client can be granted on a file system.
CLIENT_ACTIONS = (
    "elasticfilesystem:ClientMount",
    "elasticfilesystem:ClientWrite",
    "elasticfilesystem:ClientRootAccess",
)


def file_system_policy(file_system_arn: Any, access_point_arn: Any) -> dict[str, Any]:
    """Returns the file-system policy: TLS only, and only through the access point.

    Access itself is granted by each function's role (same account); this policy only
    takes away: no client may connect without TLS, and none may mount the file system
    except through the access point (which pins its user and root directory).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            deny_without_tls(list(CLIENT_ACTIONS), file_system_arn),
            {
                "Sid": "DenyOutsideTheAccessPoint",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": list(CLIENT_ACTIONS),
                "Resource": file_system_arn,
                "Condition": {
                    "StringNotEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}
                },
            },
        ],
    }


@dataclass(frozen=True)
class StorageArgs:
    """What the file system needs: settings, the network it is reachable in, its key.

    ``kms_key_arn`` is the stack's key, or ``None`` for EFS's AWS-managed key.
    """

    settings: Settings
    subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None


class Storage(pulumi.ComponentResource):
    """The EFS workspace shared by the three functions.

    Creates an encrypted file system (the stack's key, or EFS's AWS-managed key;
    throughput mode from config), a mount target in
    every subnet (in the EFS security group), exactly one access point (root
    ``/docpipe`` created as 1000:1000 mode 750, every client acting as 1000:1000), the
    file-system policy of :func:`file_system_policy`, and the backup policy from config.
    No lifecycle policy: workspaces live for minutes, and infrequent-access storage
    would only add per-read charges to them.

    Attributes:
        file_system_id: The file system's id.
        file_system_arn: The file system's ARN.
        access_point_arn: The one access point's ARN.
        mount_targets: The mount targets; functions must depend on all of them.
    """

    file_system_id: pulumi.Output[str]
    file_system_arn: pulumi.Output[str]
    access_point_arn: pulumi.Output[str]
    mount_targets: list[aws.efs.MountTarget]

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:Storage", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        file_system = aws.efs.FileSystem(
            f"{name}-fs",
            encrypted=True,
            kms_key_id=args.kms_key_arn,
            throughput_mode=settings.efs_throughput_mode,
            provisioned_throughput_in_mibps=(
                settings.efs_provisioned_mibps
                if settings.efs_throughput_mode == "provisioned"
                else None
            ),
            performance_mode="generalPurpose",
            tags={"Name": f"{name}-fs"},
            # A protected stack keeps its file system even through `pulumi destroy`.
            opts=pulumi.ResourceOptions(
                parent=self, protect=settings.protect, retain_on_delete=settings.protect
            ),
        )
        self.mount_targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{index}",
                file_system_id=file_system.id,
                subnet_id=subnet_id,
                security_groups=[args.security_group_id],
                opts=child,
            )
            for index, subnet_id in enumerate(args.subnet_ids)
        ]
        access_point = aws.efs.AccessPoint(
            f"{name}-ap",
            file_system_id=file_system.id,
            posix_user=aws.efs.AccessPointPosixUserArgs(uid=POSIX_UID, gid=POSIX_GID),
            root_directory=aws.efs.AccessPointRootDirectoryArgs(
                path=ROOT_DIRECTORY,
                creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                    owner_uid=POSIX_UID,
                    owner_gid=POSIX_GID,
                    permissions=ROOT_PERMISSIONS,
                ),
            ),
            tags={"Name": f"{name}-ap"},
            opts=child,
        )
        aws.efs.FileSystemPolicy(
            f"{name}-policy",
            file_system_id=file_system.id,
            policy=pulumi.Output.json_dumps(file_system_policy(file_system.arn, access_point.arn)),
            opts=child,
        )
        aws.efs.BackupPolicy(
            f"{name}-backup",
            file_system_id=file_system.id,
            backup_policy=aws.efs.BackupPolicyBackupPolicyArgs(
                status="ENABLED" if settings.efs_backups else "DISABLED"
            ),
            opts=child,
        )
        self.file_system_id = file_system.id
        self.file_system_arn = file_system.arn
        self.access_point_arn = access_point.arn
        self.register_outputs(
            {
                "fileSystemId": self.file_system_id,
                "fileSystemArn": self.file_system_arn,
                "accessPointArn": self.access_point_arn,
            }
        )
