"""docpipe: an S3 upload becomes a compressed PDF, its text and a manifest.

Settings -> key -> buckets -> network -> storage -> functions -> workflow -> alarms -> outputs.
The pieces live in pipeline/; the README's "How it works" and "Outputs" sections say
what they create, docs/ARCHITECTURE.md how they fit.
"""

import pulumi

from pipeline import config, packaging
from pipeline.api import Api, ApiArgs
from pipeline.buckets import PrivateBucket, PrivateBucketArgs
from pipeline.encryption import Encryption, EncryptionArgs
from pipeline.functions import Functions, FunctionsArgs
from pipeline.network import Network, NetworkArgs
from pipeline.ocr_models import OcrModels, OcrModelsArgs, stack_models
from pipeline.operations import Operations, OperationsArgs
from pipeline.storage import Storage, StorageArgs
from pipeline.workflow import Workflow, WorkflowArgs

settings = config.from_pulumi()
name = f"docpipe-{pulumi.get_stack()}"

key_arn = Encryption(name, EncryptionArgs(settings)).key_arn
buckets = {
    role: PrivateBucket(
        f"{name}-{role}",
        PrivateBucketArgs(
            noncurrent_version_days=settings.noncurrent_version_days,
            force_destroy=not settings.protect,
            eventbridge=role == "trigger",
            kms_key_arn=key_arn,
        ),
    )
    for role in ("trigger", "output", "models")
}
access_logs = PrivateBucket(
    f"{name}-access-logs",
    PrivateBucketArgs(
        noncurrent_version_days=settings.noncurrent_version_days,
        force_destroy=not settings.protect,
        kms_key_arn=key_arn,
        expire_days=settings.log_retention_days,
        log_sources=buckets,
    ),
)
network = Network(
    name,
    NetworkArgs(settings, [bucket.arn for bucket in buckets.values()], kms_key_arn=key_arn),
)
storage = Storage(
    name,
    StorageArgs(settings, network.subnet_ids, network.efs_security_group_id, key_arn),
)
code_archive = packaging.build_code_archive()
functions = Functions(
    name,
    FunctionsArgs(
        settings=settings,
        subnet_ids=network.subnet_ids,
        security_group_id=network.lambda_security_group_id,
        file_system_arn=storage.file_system_arn,
        access_point_arn=storage.access_point_arn,
        mount_targets=storage.mount_targets,
        trigger_bucket_arn=buckets["trigger"].arn,
        output_bucket_name=buckets["output"].name,
        output_bucket_arn=buckets["output"].arn,
        code_archive=code_archive,
        layer_archive=packaging.build_layer(settings.architecture, settings.python_version),
        kms_key_arn=key_arn,
        models_bucket_arn=buckets["models"].arn,
    ),
)
packaged_models, operator_models = stack_models(settings.ocr_languages, settings.ocr_model)
OcrModels(
    f"{name}-ocr-models",
    OcrModelsArgs(
        bucket_name=buckets["models"].name,
        transform_function_name=functions.names["transform"],
        packaged=packaged_models,
        operator=operator_models,
    ),
)
workflow = Workflow(
    name,
    WorkflowArgs(
        settings=settings,
        function_arns=functions.arns,
        compress_function_name=functions.names["compress"],
        trigger_bucket_name=buckets["trigger"].name,
        output_bucket_name=buckets["output"].name,
        kms_key_arn=key_arn,
        code_archive=code_archive,
    ),
)
api = Api(
    name,
    ApiArgs(
        settings=settings,
        code_archive=code_archive,
        trigger_bucket_name=buckets["trigger"].name,
        trigger_bucket_arn=buckets["trigger"].arn,
        output_bucket_name=buckets["output"].name,
        output_bucket_arn=buckets["output"].arn,
        state_machine_arn=workflow.state_machine_arn,
        kms_key_arn=key_arn,
    ),
)
operations = Operations(
    name,
    OperationsArgs(
        settings=settings,
        state_machine_arn=workflow.state_machine_arn,
        function_names=functions.names,
        file_system_id=storage.file_system_id,
        dead_letter_queue_name=workflow.dead_letter_queue_name,
        sweep_failure_queue_name=functions.sweep_failure_queue_name,
        kms_key_arn=key_arn,
        uploads_queue_name=workflow.uploads.queue_name if workflow.uploads else None,
    ),
)

pulumi.export("triggerBucket", buckets["trigger"].name)
pulumi.export("outputBucket", buckets["output"].name)
pulumi.export("stateMachineArn", workflow.state_machine_arn)
pulumi.export("backfillStateMachineArn", workflow.backfill_state_machine_arn)
pulumi.export("fileSystemId", storage.file_system_id)
pulumi.export("accessPointArn", storage.access_point_arn)
pulumi.export("ingestFunction", functions.names["ingest"])
pulumi.export("transformFunction", functions.names["transform"])
pulumi.export("compressFunction", functions.names["compress"])
pulumi.export("deadLetterQueue", workflow.dead_letter_queue_name)
pulumi.export("accessLogBucket", access_logs.name)
pulumi.export("sweepFailureQueue", functions.sweep_failure_queue_name)
pulumi.export("alarmTopicArn", operations.topic_arn)
pulumi.export("dashboardUrl", operations.dashboard_url)
pulumi.export("modelsBucket", buckets["models"].name)
pulumi.export("apiUrl", api.url)
if workflow.uploads is not None:
    pulumi.export("uploadsQueue", workflow.uploads.queue_name)
    pulumi.export("uploadsStateMachineArn", workflow.uploads.state_machine_arn)
