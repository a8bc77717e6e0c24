"""The names and dummy credentials of every local stack (no moto import, so that the
operator commands can point clients at a running ``serve`` without loading moto)."""

REGION = "us-east-1"
ACCOUNT = "123456789012"
TRIGGER_BUCKET = "docpipe-local-trigger"
OUTPUT_BUCKET = "docpipe-local-output"
STATE_MACHINE = "docpipe-local"
# Credentials that moto accepts and that can reach nothing real.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "docpipe-local",
    "AWS_SECRET_ACCESS_KEY": "docpipe-local",
    "AWS_SESSION_TOKEN": "docpipe-local",
}
