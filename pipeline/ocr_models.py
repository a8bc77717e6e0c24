"""OCR models on EFS: the stack uploads them to the models bucket and provisions them.

The transform function is the only one that reads models, and the only one that can
write them onto the access point from inside the VPC, so provisioning is one of its
actions (``provision_models``, :mod:`functions.provision_models`): ``pulumi up`` invokes
it whenever the set of models changes. Nothing here grows the Lambda layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from functions.documents.ocr.models import MODELS_DIR, OSD
from pipeline.models import ModelFile, ModelSourceError, packaged_model

MODELS_PREFIX = f"{MODELS_DIR}/"


def model_key(language: str) -> str:
    """Returns the models bucket key of a language's model."""
    return f"{MODELS_PREFIX}{language}.traineddata"


def stack_models(languages: tuple[str, ...], kind: str) -> tuple[list[ModelFile], list[str]]:
    """Returns the packaged models to upload, and the languages an operator must upload.

    A language with no package on the index (``tessdata.fast-<lang>``) is expected under
    ``models/tesseract/`` in the models bucket, with its ``sha256`` in the metadata.
    """
    packaged, operator = [], []
    for language in dict.fromkeys([*languages, OSD]):
        try:
            packaged.append(packaged_model(language, kind))
        except ModelSourceError:
            if language == OSD:
                raise
            operator.append(language)
    return packaged, operator


def provision_input(bucket: Any, packaged: list[ModelFile], operator: list[str]) -> dict[str, Any]:
    """Returns the ``provision_models`` invocation input for the transform function."""
    models = [
        {"language": model.language, "key": model_key(model.language), "sha256": model.sha256}
        for model in packaged
    ] + [
        {"language": language, "key": model_key(language), "sha256": None} for language in operator
    ]
    return {"action": "provision_models", "bucket": bucket, "models": models}


@dataclass(frozen=True)
class OcrModelsArgs:
    """What provisioning needs.

    Attributes:
        bucket_name: The private models bucket.
        transform_function_name: The function whose ``provision_models`` action installs them.
        packaged: Models uploaded by the stack (from the packaged traineddata).
        operator: Languages the operator uploads under ``models/tesseract/`` themselves.
    """

    bucket_name: pulumi.Input[str]
    transform_function_name: pulumi.Input[str]
    packaged: list[ModelFile]
    operator: list[str]


class OcrModels(pulumi.ComponentResource):
    """The OCR models, uploaded and installed on EFS.

    Creates one S3 object per packaged model (``models/tesseract/<lang>.traineddata``,
    its SHA-256 in the metadata) and one Lambda invocation of the transform function's
    ``provision_models`` action, which runs again whenever a model's checksum or the
    list of languages changes.
    """

    def __init__(
        self, name: str, args: OcrModelsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("docpipe:index:OcrModels", name, None, opts)
        objects = [
            aws.s3.BucketObjectv2(
                f"{name}-{model.language}",
                bucket=args.bucket_name,
                key=model_key(model.language),
                source=pulumi.FileAsset(str(model.path)),
                source_hash=model.sha256,
                metadata={"sha256": model.sha256},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for model in args.packaged
        ]
        invocation_input = provision_input(args.bucket_name, args.packaged, args.operator)
        self.invocation = aws.lambda_.Invocation(
            f"{name}-provision",
            function_name=args.transform_function_name,
            input=pulumi.Output.json_dumps(invocation_input),
            triggers={
                "models": ",".join(m.sha256 for m in args.packaged) + "|" + ",".join(args.operator)
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=objects),
        )
        for language in args.operator:
            pulumi.log.warn(
                f"OCR language {language!r} is not packaged; upload {model_key(language)} to "
                "the models bucket with --metadata sha256=<hex digest> before documents need it."
            )
        self.register_outputs({"result": self.invocation.result})
