"""Queued uploads in the local stack (``uploads: queued``): what ``pulumi up`` adds for them.

That is the uploads queue and its dead-letter queue (a redrive policy of
:data:`pipeline.uploads.MAX_RECEIVE_COUNT` deliveries), the uploads state machine
(EXPRESS, :func:`pipeline.uploads.uploads_definition` on the stack's functions and
pipeline state machine) and the dispatch function (``functions.dispatch.handler`` from
the same code archive, with warm workers like the pipeline's functions). The event
source mapping between the queue and the function runs in
:mod:`pipeline.local.event_source`: moto's own SQS-to-Lambda hook invokes a function per
message, with neither batches nor a bound on concurrency, so none is created in moto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from functions.dispatch import PIPELINE_STATE_MACHINE, UPLOADS_STATE_MACHINE
from pipeline.config import Settings
from pipeline.local.deploy import (
    Clients,
    Deployed,
    Deployment,
    FunctionConfig,
    create_function,
    state_machine_role,
)
from pipeline.local.event_source import MappingConfig
from pipeline.local.lambdas import LocalLambda
from pipeline.local.names import REGION, STATE_MACHINE
from pipeline.uploads import (
    BATCHING_WINDOW_SECONDS,
    DISPATCH_HANDLER,
    DISPATCH_MEMORY_MB,
    DISPATCH_TIMEOUT_SECONDS,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_SECONDS,
    batches_at_once,
    uploads_definition,
    uploads_name,
)

UPLOADS_QUEUE = "docpipe-local-uploads"
DEAD_LETTER_QUEUE = "docpipe-local-uploads-dead-letters"
#: The dispatch function's name in :class:`~pipeline.local.lambdas.LocalLambda` (its
#: faults are injected under this name) and, as ``docpipe-dispatch``, in moto.
DISPATCH = "dispatch"
# As long as SQS keeps a message: a dead letter stays until someone looks at it.
_DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class QueuedUploads:
    """What queued uploads add to a local stack.

    Attributes:
        queue_url: The uploads queue, which the trigger rule sends execution inputs to.
        queue_arn: Its ARN (the event source of the dispatch function's records).
        dead_letter_url: Where a message goes after ``MAX_RECEIVE_COUNT`` deliveries.
        state_machine_arn: The uploads state machine (EXPRESS).
        dispatch_arn: The dispatch function.
        visibility_timeout_seconds: The uploads queue's visibility timeout.
    """

    queue_url: str
    queue_arn: str
    dead_letter_url: str
    state_machine_arn: str
    dispatch_arn: str
    visibility_timeout_seconds: int


def _queue(aws: Clients, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = str(aws.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, str(arn["Attributes"]["QueueArn"])


def deploy_queued(
    deployment: Deployment,
    aws: Clients,
    lambdas: LocalLambda,
    deployed: Deployed,
    visibility_timeout_seconds: int | None = None,
) -> QueuedUploads:
    """Creates the queues, the uploads state machine and the dispatch function.

    Args:
        visibility_timeout_seconds: The uploads queue's visibility timeout (default: the
            deployed :data:`pipeline.uploads.VISIBILITY_TIMEOUT_SECONDS`); tests shorten
            it so that a batch that did not finish comes back within the test.
    """
    settings = deployment.settings
    visibility = visibility_timeout_seconds or VISIBILITY_TIMEOUT_SECONDS
    dead_letter_url, dead_letter_arn = _queue(
        aws, DEAD_LETTER_QUEUE, {"MessageRetentionPeriod": str(_DEAD_LETTER_RETENTION_SECONDS)}
    )
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    queue_url, queue_arn = _queue(
        aws,
        UPLOADS_QUEUE,
        {"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )
    functions = deployed.functions
    definition = uploads_definition(
        deployed.state_machine_arn,
        (functions["ingest"], functions["transform"], functions["compress"]),
        task_timeout_seconds=settings.task_timeout_seconds,
        ocr_max_concurrency=settings.ocr_max_concurrency,
    )
    machine = aws.sfn.create_state_machine(
        name=uploads_name(STATE_MACHINE),
        definition=json.dumps(definition),
        roleArn=state_machine_role(aws, "docpipe-uploads"),
        type="EXPRESS",
    )
    state_machine_arn = str(machine["stateMachineArn"])
    dispatch = FunctionConfig(
        handler=DISPATCH_HANDLER,
        memory_mb=DISPATCH_MEMORY_MB,
        timeout_seconds=DISPATCH_TIMEOUT_SECONDS,
        environment={
            UPLOADS_STATE_MACHINE: state_machine_arn,
            PIPELINE_STATE_MACHINE: deployed.state_machine_arn,
        },
    )
    return QueuedUploads(
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_url=dead_letter_url,
        state_machine_arn=state_machine_arn,
        dispatch_arn=create_function(DISPATCH, dispatch, deployment, aws, lambdas),
        visibility_timeout_seconds=visibility,
    )


def mapping_config(uploads: QueuedUploads, settings: Settings) -> MappingConfig:
    """The event source mapping's configuration, as the deployed stack's."""
    return MappingConfig(
        queue_url=uploads.queue_url,
        queue_arn=uploads.queue_arn,
        function_arn=uploads.dispatch_arn,
        batch_size=settings.batch_size,
        window_seconds=BATCHING_WINDOW_SECONDS,
        max_batches=batches_at_once(settings.uploads_max_concurrency),
        region=REGION,
    )
