"""AWS implementations of :mod:`ridelines.ports` (boto3; ``AWS_ENDPOINT_URL`` points them at moto locally)."""
